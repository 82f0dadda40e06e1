package troupe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/oklog/run"
)

// ErrSignal is matched by errors.Is when a [Signals] actor stopped the group.
// So is github.com/oklog/run's ErrSignal, so that checks in code migrating
// from run.SignalHandler keep working.
var ErrSignal = errors.New("troupe: received signal")

// SignalError is what a [Signals] actor returns when a signal arrives.
// errors.As gives it, with the signal, both as *SignalError and as
// github.com/oklog/run's *SignalError.
type SignalError struct {
	// Signal is the signal that arrived.
	Signal os.Signal
}

// Error names the signal.
func (e *SignalError) Error() string { return "troupe: received signal " + e.Signal.String() }

// Is reports whether target is [ErrSignal] or run.ErrSignal.
func (e *SignalError) Is(target error) bool { return target == ErrSignal || target == run.ErrSignal }

// As fills a *run.SignalError target, for code written against oklog/run.
func (e *SignalError) As(target any) bool {
	if t, ok := target.(**run.SignalError); ok {
		*t = &run.SignalError{Signal: e.Signal}
		return true
	}
	return false
}

// ExitCode maps the result of [Group.Run] to a process exit status: 0 for
// nil or for a stop by a signal alone, 1 for anything else, including a
// signal stop joined with another actor's failure or a [TimeoutError].
//
//	os.Exit(troupe.ExitCode(g.Run()))
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if ExitCode(e) != 0 {
				return 1
			}
		}
		return 0
	}
	if errors.Is(err, ErrSignal) {
		return 0
	}
	return 1
}

// Signals returns an actor that returns a [*SignalError] when one of sigs
// arrives. With no sigs it catches SIGINT and SIGTERM; it never catches
// every signal, which would include the SIGURG that Go's runtime uses for
// preemption. Interrupted, it returns nil.
//
// It registers for the signals at once, so a signal that arrives between
// Signals and [Group.Run] is not lost; a pair that never runs keeps them
// caught until its interrupt is called.
//
// A further signal of the set while the group shuts down ends the process at
// once: it prints why on stderr and exits with status 128+n (130 for SIGINT,
// 143 for SIGTERM). Under a [Group] the watch lasts until Run returns, and
// the first signal during a shutdown that something else began is only
// noted, so one SIGTERM from a supervisor does not cut a drain short. In a
// plain run.Group the watch ends at the interrupt, and a later signal gets
// its default action, which also ends the process.
func Signals(sigs ...os.Signal) (execute func() error, interrupt func(error)) {
	if len(sigs) == 0 {
		sigs = []os.Signal{os.Interrupt, syscall.SIGTERM}
	}
	s := &signalActor{
		arrived:     make(chan os.Signal, 1),
		interrupted: make(chan struct{}),
		until:       make(chan (<-chan struct{}), 1),
	}
	signal.Notify(s.arrived, sigs...)
	return s.execute, s.interrupt
}

type signalActor struct {
	arrived     chan os.Signal
	interrupted chan struct{}
	once        sync.Once
	until       chan (<-chan struct{}) // how long the second-signal watch lasts
}

func (s *signalActor) execute() error {
	select {
	case sig := <-s.arrived:
		go s.watch(1)
		return &SignalError{Signal: sig}
	case <-s.interrupted:
		go s.watch(0)
		return nil
	}
}

func (s *signalActor) interrupt(cause error) {
	s.once.Do(func() {
		var ae *ActorError
		if errors.As(cause, &ae) && ae.runDone != nil {
			s.until <- ae.runDone
		} else {
			s.until <- closedChan()
		}
		close(s.interrupted)
	})
}

// watch keeps the signals caught during the shutdown; seen counts those
// already received. It stops, and restores the default actions, when the
// shutdown ends.
func (s *signalActor) watch(seen int) {
	defer signal.Stop(s.arrived)
	var until <-chan struct{}
	untilKnown := s.until
	for {
		select {
		case until = <-untilKnown:
			untilKnown = nil
		case <-until:
			return
		case sig := <-s.arrived:
			seen++
			if seen == 1 {
				fmt.Fprintf(os.Stderr, "troupe: received signal %v during shutdown; send it again to exit at once\n", sig)
				continue
			}
			code := 1
			if n, ok := sig.(syscall.Signal); ok {
				code = 128 + int(n)
			}
			fmt.Fprintf(os.Stderr, "troupe: received signal %v again during shutdown; exiting now with status %d\n", sig, code)
			os.Exit(code)
		}
	}
}

func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// Context returns an actor that returns when ctx is done, with
// [context.Cause] of ctx, so that a parent context can stop a group.
// Interrupted, it returns nil.
func Context(ctx context.Context) (execute func() error, interrupt func(error)) {
	stop := make(chan struct{})
	var once sync.Once
	execute = func() error {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-stop:
			return nil
		}
	}
	return execute, func(error) { once.Do(func() { close(stop) }) }
}

// OnSignal returns an actor that calls fn for each arrival of one of sigs,
// SIGHUP when none is given, without stopping the group: a configuration
// reload, say. Calls never overlap; signals that arrive during a call are
// merged into one further call. Interrupted, it stops listening and returns
// nil after any call in progress.
func OnSignal(fn func(os.Signal), sigs ...os.Signal) (execute func() error, interrupt func(error)) {
	if len(sigs) == 0 {
		sigs = []os.Signal{syscall.SIGHUP}
	}
	arrived := make(chan os.Signal, 1)
	signal.Notify(arrived, sigs...)
	stop := make(chan struct{})
	var once sync.Once
	execute = func() error {
		defer signal.Stop(arrived)
		for {
			select {
			case sig := <-arrived:
				fn(sig)
			case <-stop:
				return nil
			}
		}
	}
	return execute, func(error) { once.Do(func() { close(stop) }) }
}
