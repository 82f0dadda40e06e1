package troupe

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// StartAfter declares that this actor's execute is called only once every
// named actor is ready (see [Actor.ReadyWhen]). If one of them returns or
// fails first, or the group is stopped first, this actor never starts: its
// interrupt is still called once, and Run's error lists it in a
// [NotStartedError].
//
// StartAfter also orders the stop the other way round: a named actor is
// interrupted only after this one has returned, as if it had declared
// [Actor.StopAfter] this one, because what an actor needed to start it
// usually needs until it stops (a database behind a server). A stop
// order that contradicts it, an unknown name, the actor itself, or a
// cycle, makes Run return [ErrInvalid] before anything starts.
func (a *Actor) StartAfter(names ...string) *Actor {
	a.set(func() {
		sp := a.own()
		sp.startAfter = append(sp.startAfter, names...)
	})
	return a
}

// ReadyWhen gives the actor a readiness check. Run calls check once, on a
// goroutine of its own, as soon as the actor's execute has begun; check
// returns nil once the actor is ready (a cache synced, a database
// answering), waiting as long as it needs to. An error from check is the
// actor's failure and stops the group. ctx is cancelled, with the cause,
// when the shutdown begins; Run waits for check to return.
//
// Without ReadyWhen an actor is ready as soon as its execute has begun,
// except a [Actor.OneShot] actor, which is ready once it has returned nil,
// the servers of [HTTPServer], which are ready once they accept
// connections, and a nested group ([Group.AddGroup]), which is ready once
// every actor of it is. A nil check makes Run return [ErrInvalid].
func (a *Actor) ReadyWhen(check func(ctx context.Context) error) *Actor {
	a.set(func() {
		if check == nil {
			if sp := a.own(); sp.invalid == "" { // an earlier refusal says more
				sp.invalid = "nil ReadyWhen check"
			}
			return
		}
		a.own().check = check
	})
	return a
}

// readiness is how an actor becomes ready.
type readiness uint8

const (
	readyAtStart   readiness = iota
	readyByCheck             // its ReadyWhen check returns nil
	readyOnReturn            // a OneShot: once it returns nil
	readyAnnounced           // an adapter or a nested group says so
)

// NotStartedError lists the actors that never started, because the group
// began to stop before what they start after ([Actor.StartAfter]) was
// ready. [Group.Run] joins it to its error. It is neither a failure nor a
// requested stop of its own: [ExitCode] looks past it.
type NotStartedError struct {
	// Actors are the names of the actors never started, in the order they
	// were added.
	Actors []string
}

// Error lists the actors never started.
func (e *NotStartedError) Error() string {
	return "troupe: never started: " + quoteAll(e.Actors)
}

// startOrder is what a Run needs to start actors after others: for each
// actor, those that start after it.
type startOrder struct {
	dependents map[*Actor][]*Actor
}

// waitFor reports whether some actor starts after a.
func (o *startOrder) waitFor(a *Actor) bool {
	return o != nil && len(o.dependents[a]) > 0
}

// newStartOrder counts, for each actor, the actors it starts after, from
// what plan resolved; nil when no actor starts after another.
func newStartOrder(startsAfter map[*Actor][]*Actor) *startOrder {
	if startsAfter == nil {
		return nil
	}
	for _, dependents := range startsAfter {
		for _, a := range dependents {
			a.settings().waitingOn++ // a has settings of its own: its StartAfter
		}
	}
	return &startOrder{dependents: startsAfter}
}

// howReady decides how an actor becomes ready, before it starts: by a
// check, by returning, by the announcement of an adapter or a nested
// group, or as it starts. A server adapter of this package is always
// linked, also when a check decides its readiness, so that it hears of
// the stop delay.
func (r *runner) howReady(a *Actor) readiness {
	announces := r.linkAdapter(a) || a.settings().nested != nil
	switch {
	case a.settings().check != nil:
		return readyByCheck
	case a.isOneShot():
		return readyOnReturn
	case announces:
		return readyAnnounced
	}
	return readyAtStart
}

// startReady starts every actor that waits for nothing; the runner's
// goroutine calls it once, at Run's start. The roots are picked first:
// starting one may start, through markReady, what waits only for it.
func (r *runner) startReady() {
	r.notReady = r.actors.len()
	if r.order == nil {
		for a := range r.actors.all() {
			r.start(a)
		}
	} else {
		var roots []*Actor
		for a := range r.actors.all() {
			if a.settings().waitingOn == 0 {
				roots = append(roots, a)
			}
		}
		for _, a := range roots {
			r.start(a)
		}
	}
	r.started = true
	if r.notReady > 0 && r.startTimeout > 0 {
		r.startClock = time.AfterFunc(r.startTimeout, func() { r.events.send(event{kind: startExpired}) })
	}
	r.checkGroupReady(false)
}

// start calls a's execute, and sets up how it becomes ready.
func (r *runner) start(a *Actor) {
	if a.settings().join != nil {
		a.settings().join(joining{
			name:     r.log.prefix + a.displayName(),
			logger:   r.log.l,
			run:      r.life,
			ready:    r.announcer(a),
			stopping: r.nestedStopping(a),
		})
	}
	if r.log.l != nil {
		r.startedAt[a.index] = time.Since(r.log.since)
		r.log.started(a)
	}
	readyBy := a.readyBy()
	if readyBy == readyAtStart {
		// Ready as it starts, in one locked operation where setStatus and
		// markReady would take three: the status bits of a waiting actor
		// are zero, and only Run's goroutine writes its word until
		// execute begins.
		a.word.Or(actorReady<<statusShift | uint32(flagReady))
		r.notReady--
	} else {
		a.setStatus(actorStarting)
	}
	r.running++
	go a.run() // not r.execute(a): a goroutine's closure then holds one pointer, not two
	switch readyBy {
	case readyAtStart:
		r.readied(a)
	case readyByCheck:
		a.mark(flagChecking)
		r.checks++
		if r.checkCtx == nil {
			r.checkCtx, r.cancelChecks = context.WithCancelCause(context.Background())
		}
		go r.runCheck(a, r.checkCtx)
	}
}

// announcer gives what an adapter or a nested group calls once ready: it
// is told through the events, so that only the runner's goroutine starts
// actors. Each calls it at most once, for the one slot it has in the
// events.
func (r *runner) announcer(a *Actor) func() {
	return func() { r.events.send(event{a, becameReady, nil}) }
}

// nestedStopping gives what a nested group calls as its own shutdown
// begins: the shutdown of this group has then begun too, whatever it
// waits for (the nested group's drain), and its state says so at once,
// for the probes and systemd. A nested one-shot group that ended cleanly
// stops nothing.
func (r *runner) nestedStopping(a *Actor) func(error) {
	return func(cause error) {
		if a.isOneShot() && errors.Is(cause, ErrReturned) {
			return
		}
		err := &ActorError{Actor: a.displayName(), Err: cause}
		r.status.stopBegins(err)
		if r.nestStopping != nil {
			r.nestStopping(err) // and so on up, to the outermost group, whose probes count
		}
	}
}

// runCheck calls a's ReadyWhen check, and tells how it ended.
func (r *runner) runCheck(a *Actor, ctx context.Context) {
	var err error // set by guarded, also on a Goexit
	defer func() { r.events.send(event{a, checkEnded, err}) }()
	guarded(&err, errCheckGoexit, func() error { return a.settings().check(ctx) })
}

// markReady records that a is ready, and starts what waited only for it.
func (r *runner) markReady(a *Actor) {
	if a.has(flagReady) || a.status() == actorNeverStarted {
		return
	}
	a.mark(flagReady)
	r.notReady--
	if a.status() == actorStarting {
		a.swapStatus(actorStarting, actorReady)
	}
	r.readied(a)
}

// readied starts what waited only for a, now counted ready.
func (r *runner) readied(a *Actor) {
	if r.order != nil && r.cause == nil {
		for _, d := range r.order.dependents[a] {
			sp := d.settings()
			if sp.waitingOn--; sp.waitingOn == 0 {
				r.start(d)
			}
		}
	}
	r.checkGroupReady(r.started)
}

// checkGroupReady moves the group to Ready once every actor is. It is
// logged only when it took more than starting every actor: the usual
// group is ready as it starts, and its log says so already.
func (r *runner) checkGroupReady(logIt bool) {
	if r.notReady == 0 && r.cause == nil && !r.ready {
		r.ready = true
		if r.startClock != nil {
			r.startClock.Stop()
		}
		r.status.enter(Ready)
		if logIt {
			r.log.groupReady()
		}
		if r.announce != nil {
			r.announce()
		}
	}
}

// checkEnded records the end of a's readiness check. Once the shutdown
// has begun, what the check says no longer matters.
func (r *runner) checkEnded(a *Actor, err error) *ActorError {
	a.unmark(flagChecking)
	r.checks--
	if r.cause != nil {
		r.settle(a)
		return nil
	}
	if err == nil {
		r.markReady(a)
		return nil
	}
	failure := &ActorError{Actor: a.displayName(), Err: fmt.Errorf("troupe: readiness check: %w", err)}
	r.failed = append(r.failed, failure)
	return failure
}

// notReadyInTime makes the actors that were started but not ready when
// StartTimeout passed fail the group.
func (r *runner) notReadyInTime() *ActorError {
	var first *ActorError
	for a := range r.actors.all() {
		if !a.startedNotReady() {
			continue
		}
		err := &ActorError{Actor: a.displayName(), Err: fmt.Errorf("troupe: not ready within StartTimeout %v: %w", r.startTimeout, ErrNotReady)}
		r.failed = append(r.failed, err)
		if first == nil {
			first = err
		}
	}
	return first
}

// neverStarted marks, as the shutdown begins, the actors that will never
// start: their execute counts as returned, so that only their interrupt
// remains to wait for.
func (r *runner) neverStarted() {
	if r.notReady == 0 {
		return
	}
	for a := range r.actors.all() {
		if a.status() == actorWaiting {
			a.setStatus(actorNeverStarted)
			a.mark(flagReturned)
			a.countEnd() // for the execute; no interrupt has begun yet
			r.notStarted = append(r.notStarted, a.displayName())
		}
	}
}
