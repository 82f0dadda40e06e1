package troupe_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// In a group of plain actors the first return begins the shutdown on its
// own goroutine (claim.go), while Group.Stop goes through the runner. When
// the two race, one of them is the cause, and every interrupt gets that
// one, once.
func TestAReturnAndAStopRacingLeaveOneCause(t *testing.T) {
	for range 200 {
		var g troupe.Group
		started := make(chan struct{})
		leave := make(chan struct{})
		var causes sync.Map // interrupt name → cause
		var calls atomic.Int32
		note := func(name string, cause error) {
			calls.Add(1)
			causes.Store(name, cause)
		}
		g.Add(func() error { close(started); <-leave; return nil },
			func(cause error) { note("leaver", cause) }).Name("leaver")
		g.Go(func(ctx context.Context) error {
			<-ctx.Done()
			note("waiter", context.Cause(ctx))
			return nil
		}).Name("waiter")
		ran := make(chan error, 1)
		go func() { ran <- g.Run() }()
		<-started
		var both sync.WaitGroup
		both.Go(func() { close(leave) })
		both.Go(g.Stop)
		both.Wait()
		err := <-ran

		if n := calls.Load(); n != 2 {
			t.Fatalf("%d interrupts called, want 2", n)
		}
		leaverCause, _ := causes.Load("leaver")
		waiterCause, _ := causes.Load("waiter")
		if leaverCause != waiterCause {
			t.Fatalf("the interrupts got different causes: %v and %v", leaverCause, waiterCause)
		}
		cause := leaverCause.(error)
		var ae *troupe.ActorError
		switch {
		case errors.Is(err, troupe.ErrStopRequested):
			if !errors.Is(cause, troupe.ErrStopRequested) {
				t.Fatalf("Run returned the stop (%v), but the interrupts got %v", err, cause)
			}
		case err == nil:
			if !errors.As(cause, &ae) || ae.Actor != "leaver" || !errors.Is(cause, troupe.ErrReturned) {
				t.Fatalf("Run returned nil for leaver's return, but the interrupts got %v", cause)
			}
		default:
			t.Fatalf("Run: %v", err)
		}
	}
}

// A failure that begins the shutdown on its own goroutine is still Run's
// first error, joined with the later failures; the interrupts get it as
// the cause, and find the group stopping.
func TestAFailureThatBeginsTheShutdownIsRunsFirstError(t *testing.T) {
	errFirst := errors.New("first failure")
	errLater := errors.New("flush failed")
	var g troupe.Group
	g.Add(func() error { return errFirst }, func(error) {}).Name("failing")
	stop := make(chan struct{})
	var interrupted struct {
		cause error
		state troupe.State
	}
	g.Add(func() error { <-stop; return errLater }, func(cause error) {
		interrupted.cause, interrupted.state = cause, g.State()
		close(stop)
	}).Name("flusher")

	err := g.Run()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Run: %v, want a joined error", err)
	}
	var first *troupe.ActorError
	if errs := joined.Unwrap(); len(errs) != 2 || !errors.As(errs[0], &first) ||
		first.Actor != "failing" || !errors.Is(first, errFirst) || !errors.Is(errs[1], errLater) {
		t.Fatalf("Run: %v; want failing's error first, then flusher's", err)
	}
	if interrupted.cause != error(first) {
		t.Errorf("the interrupt got %v, want Run's first error %v", interrupted.cause, first)
	}
	if interrupted.state != troupe.Stopping {
		t.Errorf("the interrupt found the group %v, want %v", interrupted.state, troupe.Stopping)
	}
}

// A return that begins the shutdown on its own goroutine is reported when
// it is a panic or a Goexit, and the other actors are still interrupted.
func TestAPanicOrGoexitThatBeginsTheShutdownIsReported(t *testing.T) {
	for _, tc := range []struct {
		name    string
		execute func() error
		want    string
	}{
		{"panic", func() error { panic("boom") }, "boom"},
		{"Goexit", func() error { runtime.Goexit(); return nil }, "Goexit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g troupe.Group
			g.Add(tc.execute, func(error) {}).Name("broken")
			g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("waiter")
			err := g.Run()
			var ae *troupe.ActorError
			if !errors.As(err, &ae) || ae.Actor != "broken" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run: %v; want broken's %s", err, tc.name)
			}
			if tc.name == "panic" {
				var pe *troupe.PanicError
				if !errors.As(err, &pe) {
					t.Errorf("Run: %v, want a PanicError", err)
				}
			}
		})
	}
}

// The shutdown's deadline counts from a return that began the shutdown on
// its own goroutine, although the runner had no other reason to wake: Run
// returns when it passes, naming the actor whose interrupt still runs and
// not the one that returned.
func TestTheDeadlineCountsFromAReturnThatBeginsTheShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 3 * time.Second
		g := troupe.Group{ShutdownTimeout: timeout}
		g.Add(func() error { time.Sleep(time.Second); return nil }, func(error) {}).Name("leaver")
		stuck, letGo := make(chan struct{}), make(chan struct{})
		g.Add(func() error { <-stuck; return nil }, func(error) { <-letGo; close(stuck) }).Name("stuck")

		start := time.Now()
		err := g.Run()
		took := time.Since(start)
		close(letGo)

		var te *troupe.TimeoutError
		if !errors.As(err, &te) || len(te.Stragglers) != 1 || te.Stragglers[0] != "stuck" {
			t.Fatalf("Run: %v; want a TimeoutError naming stuck alone", err)
		}
		if want := time.Second + timeout; took != want {
			t.Errorf("Run returned after %v, want %v: the return at 1s plus ShutdownTimeout", took, want)
		}
		synctest.Wait()
	})
}
