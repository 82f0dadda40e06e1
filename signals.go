package troupe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"sync"

	"github.com/oklog/run"
)

// ErrSignal is matched by errors.Is when a [Signals] actor stopped the group.
// So is github.com/oklog/run's ErrSignal, so that checks in code migrating
// from run.SignalHandler keep working.
var ErrSignal = errors.New("troupe: received signal")

// SignalError is what a [Signals] actor returns when a signal arrives.
// errors.As gives it, with the signal, as *SignalError, and also as
// github.com/oklog/run's SignalError, in both the pointer and the value
// form that code written for oklog/run uses.
type SignalError struct {
	// Signal is the signal that arrived.
	Signal os.Signal

	actor *signalActor // the Signals actor that returned it, if any
}

// joinRun lets the Run that hears of the signal tell the actor's
// second-signal watch where to report before it interrupts the actor,
// which with StopAfter may be much later.
func (e *SignalError) joinRun(l *runLife) {
	if e.actor != nil {
		e.actor.joinRun(l)
	}
}

// Error names the signal.
func (e *SignalError) Error() string { return "troupe: received signal " + e.Signal.String() }

// Is reports whether target is [ErrSignal], run.ErrSignal or
// [ErrStopRequested]: a signal is a request to stop.
func (e *SignalError) Is(target error) bool {
	return target == ErrSignal || target == run.ErrSignal || target == ErrStopRequested
}

// As fills a *run.SignalError or a **run.SignalError target, for code
// written against oklog/run.
func (e *SignalError) As(target any) bool {
	switch t := target.(type) {
	case **run.SignalError:
		*t = &run.SignalError{Signal: e.Signal}
	case *run.SignalError:
		t.Signal = e.Signal
	default:
		return false
	}
	return true
}

// Signals returns an actor that returns a [*SignalError] when one of sigs
// arrives. With no sigs it catches SIGINT and SIGTERM; it never catches
// every signal, which would include the SIGURG that Go's runtime uses for
// preemption. Interrupted, it returns nil.
//
// It catches the signals from the moment it is called, so that one that
// arrives before [Group.Run] is not lost. They get their default action
// back once the pair is done: by the time Run returns (also when Run
// refused the group), when a plain run.Group interrupts it, or, for a pair
// that is never run, once it has been garbage collected.
//
// A further signal of the set while the group shuts down ends the process at
// once with status 128+n (130 for SIGINT, 143 for SIGTERM), after saying why
// through the group's Logger, or on stderr when there is none;
// [Group.OnSecondSignal] can say last words instead, or keep the process
// alive. Under a [Group] this watch lasts until Run returns, and the first
// signal during a shutdown that something else began is only noted, so one
// SIGTERM from a supervisor does not cut a drain short. In a plain
// run.Group the watch ends at the interrupt, and a later signal gets its
// default action, which also ends the process.
func Signals(sigs ...os.Signal) (execute func() error, interrupt func(error)) {
	if len(sigs) == 0 {
		sigs = defaultStopSignals()
	}
	s := &signalActor{
		arrived: make(chan os.Signal, 1),
		stop:    make(chan struct{}),
		quit:    make(chan struct{}),
		life:    make(chan *runLife, 1),
	}
	signal.Notify(s.arrived, sigs...)
	runtime.AddCleanup(s, signal.Stop, s.arrived)
	return s.execute, s.interrupt
}

type signalActor struct {
	arrived     chan os.Signal
	stop        chan struct{} // closed by the interrupt
	quit        chan struct{} // closed to end the second-signal watch
	life        chan *runLife // the interrupting Run, for the watch
	once        sync.Once     // for the interrupt
	releaseOnce sync.Once
	mu          sync.Mutex    // guards the two below
	done        bool          // the signals have been released
	watch       chan struct{} // closed when the watch ends; nil before execute
}

func (s *signalActor) execute() error {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return nil // interrupted before it began
	}
	watching := make(chan struct{})
	s.watch = watching
	s.mu.Unlock()
	var first os.Signal
	select {
	case first = <-s.arrived:
	case <-s.stop:
	}
	go s.watchDuringShutdown(first, watching)
	if first != nil {
		return &SignalError{Signal: first, actor: s}
	}
	return nil
}

func (s *signalActor) interrupt(cause error) {
	s.once.Do(func() {
		var rc runCause
		if errors.As(cause, &rc) && rc.runOf() != nil {
			s.joinRun(rc.runOf()) // before the stop, so that the watch knows it from its start
			close(s.stop)
			return
		}
		close(s.stop)
		s.release()
	})
}

// joinRun tells the watch which Run it serves, and keeps the signals
// caught until that Run returns. It may come twice: from the Run that
// heard the actor's signal, and from its interrupt.
func (s *signalActor) joinRun(l *runLife) {
	select {
	case s.life <- l:
	default: // the watch has one already
	}
	l.whenEnded(s.release)
}

// release gives the signals back their default action, and ends the watch.
func (s *signalActor) release() {
	s.releaseOnce.Do(func() {
		s.mu.Lock()
		s.done = true
		watching := s.watch
		s.mu.Unlock()
		signal.Stop(s.arrived)
		close(s.quit)
		if watching != nil {
			<-watching
		}
	})
}

// watchDuringShutdown keeps the signals caught while the group shuts down.
// last is the signal already received, if any.
func (s *signalActor) watchDuringShutdown(last os.Signal, watching chan struct{}) {
	defer close(watching)
	var life *runLife
	lifeKnown := s.life
	for {
		select {
		case life = <-lifeKnown:
			lifeKnown = nil
		case <-s.quit:
			return
		case sig := <-s.arrived:
			if lifeKnown != nil {
				// The interrupt may have told already; select picks at random.
				select {
				case life = <-lifeKnown:
					lifeKnown = nil
				default:
				}
			}
			if last == nil {
				noteSignal(life, sig)
			} else {
				secondSignal(life, sig, last)
			}
			last = sig
		}
	}
}

// noteSignal reports the first signal during a shutdown that something
// else began.
func noteSignal(life *runLife, sig os.Signal) {
	if logger, _ := life.reporting(); logger != nil {
		logger.LogAttrs(context.Background(), slog.LevelWarn, "signal during the shutdown; send it again to exit at once",
			slog.String("signal", sig.String()))
		return
	}
	fmt.Fprintf(os.Stderr, "troupe: received signal %v during the shutdown; send it again to exit at once\n", sig)
}

// secondSignal ends the process at once, unless the group's hook decides
// otherwise.
func secondSignal(life *runLife, sig, last os.Signal) {
	status := exitStatus(sig)
	logger, hook := life.reporting()
	switch {
	case hook != nil:
		hook(sig, status)
		return
	case logger != nil:
		logger.LogAttrs(context.Background(), slog.LevelError, "second signal during the shutdown; exiting now",
			slog.String("signal", sig.String()), slog.String("after", last.String()), slog.Int("status", status))
	case sig == last:
		fmt.Fprintf(os.Stderr, "troupe: received signal %v again during the shutdown; exiting now with status %d\n", sig, status)
	default:
		fmt.Fprintf(os.Stderr, "troupe: received signal %v after %v during the shutdown; exiting now with status %d\n", sig, last, status)
	}
	os.Exit(status)
}

// OnSignal returns an actor that calls fn for each arrival of one of sigs,
// SIGHUP when none is given, without stopping the group: a configuration
// reload, say. Calls never overlap; signals that arrive during a call are
// merged into one further call. Interrupted, it stops listening and returns
// nil after any call in progress.
//
// Like [Signals], it catches the signals from the moment it is called, and
// gives them back their default action once the pair is done or, if it is
// never run, once it has been garbage collected. It panics if fn is nil.
func OnSignal(fn func(os.Signal), sigs ...os.Signal) (execute func() error, interrupt func(error)) {
	if fn == nil {
		panic("troupe: OnSignal: nil function")
	}
	if len(sigs) == 0 {
		sigs = defaultReloadSignals()
	}
	o := &onSignalActor{fn: fn, arrived: make(chan os.Signal, 1), stop: make(chan struct{})}
	if len(sigs) > 0 { // none only on js, which has no SIGHUP; none would mean all
		signal.Notify(o.arrived, sigs...)
		runtime.AddCleanup(o, signal.Stop, o.arrived)
	}
	return o.execute, o.interrupt
}

type onSignalActor struct {
	fn      func(os.Signal)
	arrived chan os.Signal
	stop    chan struct{}
	once    sync.Once
	mu      sync.Mutex // guards the two below
	started bool
	stopped bool
}

func (o *onSignalActor) execute() error {
	o.mu.Lock()
	if o.stopped {
		o.mu.Unlock()
		return nil // interrupted before it began
	}
	o.started = true
	o.mu.Unlock()
	defer signal.Stop(o.arrived)
	for {
		select {
		case sig := <-o.arrived:
			o.fn(sig)
		case <-o.stop:
			return nil
		}
	}
}

func (o *onSignalActor) interrupt(error) {
	o.once.Do(func() {
		o.mu.Lock()
		o.stopped = true
		started := o.started
		o.mu.Unlock()
		close(o.stop)
		if !started {
			signal.Stop(o.arrived) // no execute will
		}
	})
}
