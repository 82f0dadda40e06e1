package troupe

import (
	"errors"
)

// AddGroup adds inner as one actor of g, and returns its handle. Inner's
// Run becomes the actor's execute, so inner starts when g does and its
// return, or failure, stops g; g's interrupt asks inner to shut down,
// with g's cause, which inner's interrupts and context actors see.
//
// Inside, inner's own stop stages, Timeouts and ShutdownTimeout apply,
// bounded by g's: inner stops waiting when its own deadline passes or g's
// does, whichever comes first. Inner's errors come back as g's actor's
// error, so names compose as nested [*ActorError]s that errors.As walks:
// `troupe: actor "workers": actor "consumer-3": ...`. Inner logs through
// its own Logger, or g's when it has none, with names composed as
// "workers/consumer-3". Inner's configuration is checked with g's, before
// anything starts.
//
// Signals belong to the outermost group. A [Signals] actor inside inner
// still works: a signal stops inner, and so g, as a requested stop; and
// its second-signal watch lasts until the outermost Run returns.
//
// A group can be added once, to one group, not to itself, directly or
// through others, and not once it has run on its own; such misuse, or a nil
// inner, makes Run return [ErrInvalid], and leaves inner alone. Run a
// nested group only through the outermost one: its own Run returns
// ErrInvalid. A nested group that never runs, because the outer group was
// refused or stopped first, still calls each of its actors' interrupts
// once, at every depth. Its group-wide log events (shutdown begun, stop
// stage done, group stopped) carry group=workers.
func (g *Group) AddGroup(inner *Group) *Actor {
	if inner == nil {
		a := g.Add(nil, nil)
		a.set(func() { a.own().nilFunc = "group" })
		return a
	}
	n := &nestedGroup{inner: inner}
	a := g.Add(n.execute, n.interrupt)
	var sp *settings
	a.set(func() {
		sp = a.own()
		sp.join, sp.nested, sp.release = n.join, inner, n.release
	})
	if inner != g {
		// Checked before inner is marked nested: closing a cycle would
		// leave no group outside it to run, and every Run in it refused as
		// nested, with no interrupt called. Refused here, inner stays free
		// to run, and its Run finds the refusal down the chain to g and
		// calls every interrupt.
		cycle := nestsIn(inner, g)
		inner.mu.Lock()
		again, started := inner.nested, inner.started
		if !cycle {
			inner.nested = true
		}
		inner.mu.Unlock()
		a.set(func() { // under g's lock again: g's Run reads the refusal
			switch {
			case cycle:
				sp.invalid = "the group is nested in itself: it holds the group it is added to"
			case started:
				sp.invalid = "the group has run, or is running, on its own"
			case again:
				sp.invalid = "the group is already an actor of another group"
			}
			// Run refuses g then, and calls this actor's interrupt: it must
			// not stop a group that is not g's, nor check it as g's.
			if sp.invalid != "" {
				n.foreign, sp.nested = true, nil
			}
		})
	}
	return a
}

// nestedGroup is the pair that runs a group as an actor of another.
type nestedGroup struct {
	inner   *Group
	foreign bool    // inner belongs to another group, or to itself: leave it alone
	in      nesting // set by join, before execute's goroutine starts
}

func (n *nestedGroup) join(j joining) {
	n.in = nesting{parent: j.run, prefix: j.name + "/", logger: j.logger, ready: j.ready, stopping: j.stopping}
}

func (n *nestedGroup) execute() error { return n.inner.run(n.in) }

func (n *nestedGroup) interrupt(cause error) {
	if !n.foreign {
		n.inner.stop(cause)
	}
}

// release runs the group, once its interrupt has stopped it, when its
// execute never will: a stopped group starts nothing and calls every
// interrupt of its own. A group that did run has released already.
func (n *nestedGroup) release() error {
	if n.foreign {
		return nil
	}
	if err := n.inner.run(n.in); !errors.Is(err, ErrAlreadyRun) {
		return err
	}
	return nil
}

// nestsIn reports whether group is nested in from, at any depth. Each
// group is read under its own lock, one at a time: holding one while
// taking the next could deadlock with a walk the other way. A nesting
// AddGroup refused is none (it clears the actor's nested group); one
// that Run will refuse for another reason still is.
func nestsIn(from, group *Group) bool {
	seen := map[*Group]bool{}
	next := []*Group{from}
	for len(next) > 0 {
		g := next[len(next)-1]
		next = next[:len(next)-1]
		if g == group {
			return true
		}
		if seen[g] {
			continue
		}
		seen[g] = true
		g.mu.Lock()
		if g.owners > 0 { // a nested group is a setting
			for a := range g.actors.all() {
				if sp := a.settings(); sp.nested != nil {
					next = append(next, sp.nested)
				}
			}
		}
		g.mu.Unlock()
	}
	return false
}

// nestedIn is a group nested in another, with the name of the actor it is.
type nestedIn struct {
	name  string
	group *Group
}

// nestedGroups gives the groups nested in actors.
func nestedGroups(actors *actorList) []nestedIn {
	var groups []nestedIn
	for a := range actors.all() {
		if inner := a.settings().nested; inner != nil {
			groups = append(groups, nestedIn{a.displayName(), inner})
		}
	}
	return groups
}

// checkNested checks nested groups, and those nested in them, with the
// names of their problems composed: "workers/consumer-3". seen holds the
// groups on the way down, to find a group nested in itself.
func checkNested(groups []nestedIn, seen map[*Group]bool) error {
	var errs []error
	for _, n := range groups {
		if seen[n.group] {
			errs = append(errs, &configError{actor: n.name, msg: "the group is nested in itself"})
			continue
		}
		seen[n.group] = true
		err := checkInner(n.group, seen)
		delete(seen, n.group)
		errs = append(errs, prefixed(n.name, err)...)
	}
	return errors.Join(errs...)
}

// checkInner checks a nested group, then the groups nested in it. Until
// it runs, actors may still be added to it and their settings change, so
// it is checked under its lock; but the groups nested in it are checked
// after the lock is released: a check that held one group's lock while it
// took the next could wait forever for another Run walking a nesting
// cycle the other way.
func checkInner(inner *Group, seen map[*Group]bool) error {
	inner.mu.Lock()
	settings := inner.settings()
	plain := inner.owners == 0
	_, err := plan(&inner.actors, settings, plain)
	var groups []nestedIn
	if !plain {
		groups = nestedGroups(&inner.actors)
	}
	inner.mu.Unlock()
	if settings.stopDelay != 0 {
		err = errors.Join(err, &configError{msg: "StopDelay applies to the outermost group only"})
	}
	return errors.Join(err, checkNested(groups, seen))
}

// prefixed gives err's configuration problems as problems of the nested
// group named name.
func prefixed(name string, err error) []error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var errs []error
		for _, e := range joined.Unwrap() {
			errs = append(errs, prefixed(name, e)...)
		}
		return errs
	}
	if ce, ok := err.(*configError); ok {
		actor := name
		if ce.actor != "" {
			actor = name + "/" + ce.actor
		}
		return []error{&configError{actor: actor, msg: ce.msg}}
	}
	return []error{&configError{actor: name, msg: err.Error()}}
}
