package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
// one, once. synctest's clock makes both come after the start, where a
// return may claim the shutdown, at one instant.
func TestAReturnAndAStopRacingLeaveOneCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for range 200 {
			var g troupe.Group
			var causes sync.Map // interrupt name → cause
			var calls atomic.Int32
			note := func(name string, cause error) {
				calls.Add(1)
				causes.Store(name, cause)
			}
			g.Add(func() error { time.Sleep(time.Second); return nil },
				func(cause error) { note("leaver", cause) }).Name("leaver")
			g.Go(func(ctx context.Context) error {
				<-ctx.Done()
				note("waiter", context.Cause(ctx))
				return nil
			}).Name("waiter")
			ran := make(chan error, 1)
			go func() { ran <- g.Run() }()
			time.Sleep(time.Second)
			g.Stop()
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
	})
}

// A Stop that has returned comes before a return that follows it, with
// claims (no logger) or without: Run's error is the stop, and so is every
// interrupt's cause. After the start, synctest's clock orders the two; in
// the start, the actor stops the group itself and then returns.
func TestAStopThatReturnedComesBeforeALaterReturn(t *testing.T) {
	for _, during := range []string{"running", "the start"} {
		for _, logged := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, logger %v", during, logged), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					for range 100 {
						var g troupe.Group
						if logged {
							g.Logger = slog.New(slog.DiscardHandler)
						}
						leave := make(chan struct{})
						g.Add(func() error {
							if during == "the start" {
								g.Stop()
								return nil
							}
							<-leave
							return nil
						}, func(error) {}).Name("leaver")
						var waiterCause atomic.Value
						g.Go(func(ctx context.Context) error {
							<-ctx.Done()
							waiterCause.Store(context.Cause(ctx))
							return nil
						}).Name("waiter")
						ran := make(chan error, 1)
						go func() { ran <- g.Run() }()
						if during == "running" {
							time.Sleep(time.Second)
							g.Stop()
							close(leave)
						}
						err := <-ran
						cause, _ := waiterCause.Load().(error)
						if !errors.Is(err, troupe.ErrStopRequested) || !errors.Is(cause, troupe.ErrStopRequested) {
							t.Fatalf("Run: %v, interrupt's cause %v; want both the stop", err, cause)
						}
					}
				})
			})
		}
	}
}

// A failure that begins the shutdown on its own goroutine is still Run's
// first error, joined with the later failures; the interrupts get it as
// the cause, and find the group stopping. It fails a second in, after the
// start, where a return may claim the shutdown; and a panic or a Goexit
// there is reported too, while the others are still interrupted.
func TestAFailureThatBeginsTheShutdownIsRunsFirstError(t *testing.T) {
	errFirst := errors.New("first failure")
	for _, tc := range []struct {
		name    string
		execute func() error
		want    string
	}{
		{"error", func() error { return errFirst }, errFirst.Error()},
		{"panic", func() error { panic("boom") }, "boom"},
		{"Goexit", func() error { runtime.Goexit(); return nil }, "Goexit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				errLater := errors.New("flush failed")
				var g troupe.Group
				g.Add(func() error { time.Sleep(time.Second); return tc.execute() }, func(error) {}).Name("failing")
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
					first.Actor != "failing" || !strings.Contains(first.Error(), tc.want) || !errors.Is(errs[1], errLater) {
					t.Fatalf("Run: %v; want failing's %s first, then flusher's error", err, tc.name)
				}
				if tc.name == "panic" {
					var pe *troupe.PanicError
					if !errors.As(first, &pe) {
						t.Errorf("Run's first error: %v, want a PanicError", first)
					}
				}
				if interrupted.cause != error(first) {
					t.Errorf("the interrupt got %v, want Run's first error %v", interrupted.cause, first)
				}
				if interrupted.state != troupe.Stopping {
					t.Errorf("the interrupt found the group %v, want %v", interrupted.state, troupe.Stopping)
				}
			})
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

// slowAs is an error whose As takes its time (a long chain, a lock). The
// claim calls it, through errors.As, after it has claimed the shutdown and
// before it has told readiness.
type slowAs struct{ entered, release chan struct{} }

func (e *slowAs) Error() string { return "slow" }
func (e *slowAs) As(any) bool {
	select {
	case <-e.entered:
	default:
		close(e.entered)
	}
	<-e.release
	return false
}

// Readiness reports a stop as Stop returns: a probe after the call never
// reads Ready. When a return claimed the shutdown first (no logger), Stop
// reports that return's cause itself, which the claim may not have done
// yet.
func TestTheGroupIsStoppingOnceStopReturns(t *testing.T) {
	for _, logged := range []bool{false, true} {
		t.Run(fmt.Sprintf("logger %v", logged), func(t *testing.T) {
			var g troupe.Group
			if logged {
				g.Logger = slog.New(slog.DiscardHandler)
			}
			e := &slowAs{entered: make(chan struct{}), release: make(chan struct{})}
			leave := make(chan struct{})
			g.Add(func() error { <-leave; return e }, func(error) {}).Name("leaver")
			g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("waiter")
			ran := make(chan error, 1)
			go func() { ran <- g.Run() }()
			if err := g.WaitReady(context.Background()); err != nil {
				t.Fatal(err)
			}
			close(leave)
			if !logged {
				<-e.entered // the return has claimed the shutdown, and is held
			}
			g.Stop()
			state := g.State()
			close(e.release)
			<-ran
			if state != troupe.Stopping {
				t.Errorf("State() = %v as Stop returned, want %v", state, troupe.Stopping)
			}
		})
	}
}
