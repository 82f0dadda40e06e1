package troupe

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"
)

// Actor is the handle that [Group.Add] and [Group.Go] return, for settings
// that belong to one actor. Each method returns the same handle, so settings
// chain:
//
//	g.Add(troupe.Closer(db)).Name("db").StopAfter("http", "grpc")
//
// Settings are read when [Group.Run] starts; changing them after that
// panics, as [Group.Add] does.
//
// It is packed into 32 bytes: an idle group holds one per actor. The
// group is reached through the settings, which most actors share with
// the rest of their group, and the actor's progress through a Run is one
// word (progress.go).
type Actor struct {
	execute   func() error
	interrupt func(error)
	// opts is the group's shared defaults until the actor is given a
	// setting of its own. It is atomic because a setting must find the
	// group, whose lock guards the change, through it: another goroutine
	// may be changing it under that lock.
	opts  atomic.Pointer[settings]
	index int32
	word  atomic.Uint32 // its progress through the Run: see progress.go
}

// Name names the actor in logs, errors and [Actor.StopAfter]. Names must be
// unique and not empty. An actor without a name is called actor-N, for the
// Nth actor added, and cannot be named in StopAfter.
func (a *Actor) Name(name string) *Actor {
	a.set(func() {
		sp := a.own()
		sp.name, sp.named = name, true
	})
	return a
}

// StopAfter declares that this actor is interrupted only after every named
// actor has returned, or has passed its own [Actor.Timeout]. Use it to close
// a database after the servers that use it have drained. Without StopAfter,
// every actor is interrupted as soon as the shutdown begins. An unknown name
// or a cycle makes [Group.Run] return [ErrInvalid] before anything starts.
func (a *Actor) StopAfter(names ...string) *Actor {
	a.set(func() {
		sp := a.own()
		sp.stopAfter = append(sp.stopAfter, names...)
	})
	return a
}

// Timeout bounds how long the shutdown waits for this actor, counted from
// the moment its interrupt is called. When it passes, later stages go ahead
// without it, and [Group.Run] names it in a [TimeoutError] if it is still
// running at the end. Zero, the default, means only [Group.ShutdownTimeout]
// applies.
func (a *Actor) Timeout(d time.Duration) *Actor {
	a.set(func() { a.own().timeout = d })
	return a
}

// OneShot marks an actor that is expected to finish, such as a migration: its
// nil return does not begin the shutdown. An error still does. Its interrupt
// is still called once, during the shutdown. When every actor is one-shot and
// all of them return nil, Run returns nil.
func (a *Actor) OneShot() *Actor {
	a.set(func() { a.own().oneShot = true })
	return a
}

func (a *Actor) set(change func()) {
	g := a.group()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.started {
		panic("troupe: actor " + strconv.Quote(a.displayName()) + " changed after Run started")
	}
	change()
}

func (a *Actor) displayName() string {
	if sp := a.settings(); sp.named && sp.name != "" {
		return sp.name
	}
	if int(a.index) < len(defaultNames) {
		return defaultNames[a.index]
	}
	return "actor-" + strconv.Itoa(int(a.index)+1)
}

// defaultNames are the names of the first actors without one, made once:
// a shutdown's cause names its actor, and a small group should not have
// to allocate that name.
var defaultNames = [...]string{
	"actor-1", "actor-2", "actor-3", "actor-4", "actor-5", "actor-6", "actor-7", "actor-8",
	"actor-9", "actor-10", "actor-11", "actor-12", "actor-13", "actor-14", "actor-15", "actor-16",
}

// settings is what some actors need beyond a pair, kept apart so that the
// usual actor stays small: the actors without any share their group's
// defaults, which hold nothing but the group.
type settings struct {
	group     *Group
	name      string
	named     bool
	nilFunc   string // which function was nil at Add, reported by Run
	stopAfter []string
	timeout   time.Duration
	timer     *time.Timer // the actor's own Timeout, once its interrupt is called

	// join is told as the actor starts where it runs: how Group.Restart
	// logs and a nested group learns where it is nested.
	join    func(joining)
	nested  *Group // the group that AddGroup made this actor of, if any
	invalid string // another reason Run must refuse the actor
	// release, called after the interrupt of an actor whose execute will
	// never run, lets a nested group release its own actors.
	release func() error

	oneShot    bool
	startAfter []string
	stage      int                             // set by Run: its stop stage; only an actor with a stop order has one past 0
	waitingOn  int                             // set by Run: the actors it starts after that are not ready yet
	check      func(ctx context.Context) error // ReadyWhen's
}

// joining is what an actor that needs it learns of the Run as it starts.
type joining struct {
	name     string       // its full name, with the prefixes of the groups it is nested in
	logger   *slog.Logger // the group's, or the nearest enclosing group's
	run      *runLife
	ready    func()            // to call once ready, if it announces readiness
	stopping func(cause error) // to call as a nested group's own shutdown begins
}

// settings gives the actor's settings, its own or its group's defaults.
func (a *Actor) settings() *settings { return a.opts.Load() }

// group is the group the actor was added to.
func (a *Actor) group() *Group { return a.settings().group }

// own gives the actor settings of its own, made on its first setting:
// until then it shares its group's defaults, which must stay as they are.
// It is called under the group's lock, or by Run once no setting can
// change (stage, for which the actor has settings of its own already).
func (a *Actor) own() *settings {
	sp := a.settings()
	if sp == &sp.group.defaults {
		sp.group.owners++
		sp = &settings{group: sp.group}
		a.opts.Store(sp)
	}
	return sp
}

// named reports whether the actor was given a name, maybe empty.
func (a *Actor) named() bool { return a.settings().named }

// isOneShot reports whether the actor is [Actor.OneShot].
func (a *Actor) isOneShot() bool { return a.settings().oneShot }

// ownTimeout is the actor's Timeout; zero when it has none.
func (a *Actor) ownTimeout() time.Duration { return a.settings().timeout }

// nilOf names the nil functions of a pair, or gives "" when neither is.
func nilOf(execute func() error, interrupt func(error)) string {
	switch {
	case execute == nil && interrupt == nil:
		return "execute and interrupt functions"
	case execute == nil:
		return "execute function"
	case interrupt == nil:
		return "interrupt function"
	}
	return ""
}
