package troupe

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Group runs actors together: it starts them all at once, the first to
// return begins the shutdown, and [Group.Run] returns once every actor has
// returned or a deadline has passed.
//
// The zero value is ready to use: no logging, and no shutdown deadline.
// A Group must not be copied after first use (go vet reports copies), and it
// runs once.
type Group struct {
	// Logger receives the lifecycle events: each actor started and returned,
	// the shutdown begun and its cause, each stop stage done, stragglers at a
	// deadline, and the group stopped. Nil logs nothing.
	Logger *slog.Logger

	// ShutdownTimeout bounds the whole shutdown, counted from the first
	// actor's return. When it passes, Run returns at once with a
	// [TimeoutError] that names every actor whose execute, or whose
	// interrupt, is still running. Before returning it calls the interrupts
	// of the actors whose stage had not yet come, and does not wait for
	// them; an actor among them whose execute had already returned is not
	// a straggler.
	//
	// Zero, the default, means Run waits for every actor, as oklog/run does.
	// The default is no bound because a library cannot know how long a drain
	// may take, and because returning leaves the stragglers' goroutines
	// running: that is right just before a process exits, and wrong in a
	// long-lived program that runs groups. Services should set it a few
	// seconds below their supervisor's kill deadline (Kubernetes's
	// terminationGracePeriodSeconds, systemd's TimeoutStopSec).
	ShutdownTimeout time.Duration

	// OnSecondSignal, when set, is called instead of exiting when a
	// [Signals] actor receives a second signal during the shutdown. By
	// default troupe logs the signal (to Logger, or else to stderr) and
	// exits at once with status, 128+n for signal n, because a second
	// Ctrl-C or SIGTERM means "stop now". The function may say its last
	// words (flush logs, say) and call os.Exit itself, or return to ignore
	// the signal: the shutdown then goes on, and a further signal calls it
	// again. It runs on the signal watch's goroutine, which Run waits for,
	// so it must return or exit.
	OnSecondSignal func(sig os.Signal, status int)

	// StartTimeout bounds the start, counted from Run's: an actor started
	// but still not ready when it passes fails the group with an error
	// that names it and matches [ErrNotReady]. Zero, the default, means no
	// bound.
	StartTimeout time.Duration

	// StopDelay is how long a ready group keeps serving once it is asked to
	// stop, by a signal, a parent context or [Group.Stop], before its
	// interrupts are called. Readiness ([Group.HealthHandler]'s /readyz)
	// reports the stop at once, and the server adapters answer every
	// HTTP/1 response with "Connection: close" and run their [BeforeStop]
	// hooks (gRPC health NOT_SERVING), so that load balancers and clients
	// move to other instances before the servers stop accepting. Under
	// Kubernetes the endpoint's removal travels in parallel with SIGTERM,
	// and a few seconds covers it.
	//
	// The delay counts against ShutdownTimeout, which must leave time after
	// it. A failure, or a stop while the group is still starting, skips
	// the delay, and a failure during it ends it at once. A second signal
	// during the delay ends the process, as during any shutdown. Only the
	// outermost group may set it. Zero, the default, means no delay.
	StopDelay time.Duration

	mu        sync.Mutex // guards the fields below; sync.Mutex also makes vet flag copies
	actors    actorList
	defaults  settings // the settings of every actor that has none of its own
	owners    int      // the actors with settings of their own: while none has, Run skips the walks that only read settings
	started   bool
	nested    bool    // an actor of another group, through AddGroup
	running   *runner // from Run's start, for stop
	stopCause error   // the stop the enclosing group asked for, if it has

	status groupStatus // for State, WaitReady and health, from any goroutine

	runState runner // the Run's state: see newRunner
}

// Add adds an actor: execute runs it, and interrupt must make execute
// return. The signature is oklog/run's, so code written for run.Group moves
// over by changing the type.
//
// Every interrupt is called exactly once, off Run's goroutine and
// concurrently with the others of its stage (one that blocks delays none
// of the others), with the shutdown's cause: an [*ActorError] that names
// the actor that returned first. Interrupts that return may share a
// goroutine, one after another, so an interrupt must leave its goroutine
// as it found it: not locked to its thread (runtime.LockOSThread without
// UnlockOSThread) and with its profiler labels as they were; work that
// changes them belongs on a goroutine of its own. It may be called
// after execute has returned, before execute has begun, or for an execute
// that will never run (when Run refused the group with [ErrInvalid]), so it
// must not wait for execute. Run waits for interrupts to return as well as
// executes, so an interrupt that blocks holds Run until it returns or a
// deadline passes.
//
// Add panics once Run has started. A nil execute or interrupt makes Run
// return [ErrInvalid].
func (g *Group) Add(execute func() error, interrupt func(error)) *Actor {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.started {
		panic("troupe: Add called after Run started")
	}
	if g.defaults.group == nil {
		g.defaults.group = g // once: a setting reads it without the lock
	}
	a := g.actors.add()
	a.index, a.execute, a.interrupt = int32(g.actors.len()-1), execute, interrupt
	a.opts.Store(&g.defaults)
	if what := nilOf(execute, interrupt); what != "" {
		a.own().nilFunc = what
	}
	return a
}

// Go adds an actor that runs fn with a context that is cancelled when the
// actor is interrupted. The context's cause, from [context.Cause], is the
// shutdown's cause. A return of context.Canceled after that cancellation is
// a clean stop. Go is Add with [Func].
func (g *Group) Go(fn func(ctx context.Context) error) *Actor {
	if fn == nil {
		a := g.Add(nil, nil)
		a.set(func() { a.own().nilFunc = "context function" })
		return a
	}
	return g.Add(Func(fn))
}

// Run starts every actor at once and waits. The first actor to return, with
// nil or an error, begins the shutdown (unless it is [Actor.OneShot] and
// returned nil). Interrupts are then called concurrently, stage by stage in
// the order declared with [Actor.StopAfter].
//
// Run returns nil when the cause was a clean return. Otherwise it returns
// the cause first, joined with every other actor's failure and, if a
// deadline passed, a [TimeoutError]; each actor's error is an
// [*ActorError]. An interrupted actor's echo of its interruption is not a
// failure; the package documentation lists the echoes. A signal stop
// returns the [*SignalError]; [ExitCode] maps it to 0.
//
// A panic in an actor or an interrupt becomes a [*PanicError] and the rest
// of the group shuts down gracefully.
//
// A misconfigured group returns [ErrInvalid] and calls no execute; it
// still calls every interrupt once, so that pairs release what they took
// when they were made (a signal registration, a listener). A second Run
// returns [ErrAlreadyRun].
func (g *Group) Run() error { return g.run(nesting{outermost: true}) }

func (g *Group) run(in nesting) error {
	g.mu.Lock()
	if in.outermost && g.nested {
		g.mu.Unlock()
		return &configError{msg: "the group is an actor of another group (AddGroup); run the outermost group"}
	}
	if g.started {
		g.mu.Unlock()
		return ErrAlreadyRun
	}
	g.started = true
	actors := &g.actors // no actor is added once Run has started
	g.mu.Unlock()

	// No setting can change now: Run has started.
	plain := g.owners == 0
	sched, err := plan(actors, g.settings(), plain)
	if !plain { // a nested group is a setting
		if nestErr := checkNested(nestedGroups(actors), map[*Group]bool{g: true}); nestErr != nil {
			err = join(err, nestErr)
		}
	}
	if err != nil {
		defer g.status.enter(Stopped)
		g.status.stopBegins(err)
		if extra := releaseUnstarted(actors, err, g.ShutdownTimeout); len(extra) > 0 {
			return errors.Join(append([]error{err}, extra...)...)
		}
		return err
	}
	if actors.len() == 0 {
		g.mu.Lock()
		asked := g.stopCause
		g.mu.Unlock()
		if asked == nil {
			g.status.enter(Ready) // every one of no actors is ready
		}
		g.status.stopBegins(asked)
		g.status.enter(Stopped)
		if asked == errStopCalled {
			return asked
		}
		return nil
	}
	r := newRunner(g, actors, sched, in)
	g.mu.Lock()
	asked := g.stopCause
	if asked == nil {
		g.running = r
	}
	g.mu.Unlock()
	if asked != nil {
		// Stopped before it began: it starts nothing, and waits for its
		// interrupts no longer than the enclosing group does.
		timeout := g.ShutdownTimeout
		if at := in.parent.shutdownDeadline(); !at.IsZero() {
			if left := max(time.Until(at), time.Nanosecond); timeout == 0 || left < timeout {
				timeout = left
			}
		}
		cause := &outsideCause{err: asked, run: r.life}
		g.status.stopBegins(cause)
		errs := releaseUnstarted(actors, cause, timeout)
		if asked == errStopCalled {
			errs = append([]error{asked}, errs...)
		}
		g.status.enter(Stopped)
		r.life.end()
		return join(errs...)
	}
	// g.running stays set: a stop that comes after Run has returned lands
	// in the inbox, which never blocks.
	return r.run()
}

// stop asks the group to shut down from outside, with cause: the enclosing
// group's interrupt, or errStopCalled from Group.Stop. Before Run it makes
// Run start nothing. Only the first call counts.
func (g *Group) stop(cause error) {
	if cause == nil {
		cause = ErrStopRequested
	}
	g.mu.Lock()
	if g.stopCause != nil {
		g.mu.Unlock()
		return
	}
	g.stopCause = cause
	r := g.running
	g.mu.Unlock()
	if r != nil {
		// Claimed as it is asked, not once the runner hears of it, so that
		// a return that follows Stop cannot begin the shutdown ahead of it
		// (claim.go).
		mine := &claim{stop: &outsideCause{err: cause, run: r.life}}
		standing, _ := r.claimFor(mine)
		// Readiness reports the stop as Stop returns, not once the Run
		// hears of it: a probe that follows the call sees it, and a
		// request that follows it is answered with Connection: close. A
		// return that claimed the shutdown first is its cause, which
		// readiness reports as soon: the claim may not have told it yet.
		// The runner's own claim is for a return it has yet to apply, as
		// without claims.
		switch {
		case standing.actor != nil:
			g.status.stopBegins(&standing.cause)
		case cause == errStopCalled:
			g.status.stopBegins(mine.stop)
			if n := r.life.existingNotice(); n != nil && g.StopDelay > 0 && g.status.wasReady() {
				n.begin()
			}
		}
		r.events.send(event{kind: stopAsked, err: cause})
	}
}

// settings gives what plan checks of the group's own fields.
func (g *Group) settings() groupSettings {
	return groupSettings{shutdownTimeout: g.ShutdownTimeout, startTimeout: g.StartTimeout, stopDelay: g.StopDelay}
}
