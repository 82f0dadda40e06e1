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
// Its fields are ordered to pack: an idle group holds one per actor, and
// what most actors never set lives in special.
type Actor struct {
	group     *Group
	execute   func() error
	interrupt func(error)
	special   *special // settings most actors lack, a name among them; nil for most actors
	index     int32
	stage     int32 // set by Run, as all below

	finished       atomic.Int32  // execute and interrupt calls that have ended
	status         atomic.Uint32 // actorWaiting and on, for any goroutine to read
	calling        atomic.Bool   // the interrupt has been entered
	interrupted    bool
	returned       bool
	interruptDone  bool
	done           bool      // execute and interrupt returned, or its own deadline passed
	readyBy        readiness // how the actor becomes ready
	isReady        bool
	checking       bool // its readiness check runs
	endsQuietly    bool // a nil return after its interrupt needs no event: see endedClean
	returnRecorded bool // its return was recorded, or claimed, before its interrupt was called: see endedClean
}

// Name names the actor in logs, errors and [Actor.StopAfter]. Names must be
// unique and not empty. An actor without a name is called actor-N, for the
// Nth actor added, and cannot be named in StopAfter.
func (a *Actor) Name(name string) *Actor {
	a.set(func() {
		sp := a.specials()
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
		sp := a.specials()
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
	a.set(func() { a.specials().timeout = d })
	return a
}

// OneShot marks an actor that is expected to finish, such as a migration: its
// nil return does not begin the shutdown. An error still does. Its interrupt
// is still called once, during the shutdown. When every actor is one-shot and
// all of them return nil, Run returns nil.
func (a *Actor) OneShot() *Actor {
	a.set(func() { a.specials().oneShot = true })
	return a
}

func (a *Actor) set(change func()) {
	g := a.group
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.started {
		panic("troupe: actor " + strconv.Quote(a.displayName()) + " changed after Run started")
	}
	change()
}

func (a *Actor) displayName() string {
	if a.named() && a.special.name != "" {
		return a.special.name
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

// special is what some actors need beyond a pair, kept apart so that the
// usual actor stays small.
type special struct {
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

// named reports whether the actor was given a name, maybe empty.
func (a *Actor) named() bool { return a.special != nil && a.special.named }

// isOneShot reports whether the actor is [Actor.OneShot].
func (a *Actor) isOneShot() bool { return a.special != nil && a.special.oneShot }

// ownTimeout is the actor's Timeout; zero when it has none.
func (a *Actor) ownTimeout() time.Duration {
	if a.special == nil {
		return 0
	}
	return a.special.timeout
}

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
