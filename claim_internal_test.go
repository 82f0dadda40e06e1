package troupe

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// Which groups let a return claim the shutdown (claim.go): only those
// where the runner has nothing to do as the shutdown begins that a claim
// would skip. Each case runs a group whose first actor returns once the
// start is over, beside one that waits to be interrupted.
func TestWhichGroupsLetAReturnClaimTheShutdown(t *testing.T) {
	blocking := func(g *Group) *Actor {
		return g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil })
	}
	for _, tc := range []struct {
		name   string
		set    func(g *Group)
		claims bool
	}{
		{"plain pairs", func(g *Group) { blocking(g) }, true},
		{"named, with a ShutdownTimeout", func(g *Group) {
			g.ShutdownTimeout = time.Minute
			blocking(g).Name("worker")
		}, true},
		{"a logger", func(g *Group) {
			g.Logger = slog.New(slog.DiscardHandler)
			blocking(g)
		}, false},
		{"a stop order", func(g *Group) { blocking(g).Name("b").StopAfter("first") }, false},
		{"a start order", func(g *Group) { blocking(g).StartAfter("first") }, false},
		{"a one-shot", func(g *Group) { blocking(g).OneShot() }, false},
		{"an own Timeout", func(g *Group) { blocking(g).Timeout(time.Minute) }, false},
		{"a readiness check", func(g *Group) {
			blocking(g).ReadyWhen(func(context.Context) error { return nil })
		}, false},
		{"a StartTimeout", func(g *Group) { g.StartTimeout = time.Minute; blocking(g) }, false},
		{"a StopDelay", func(g *Group) { g.StopDelay = time.Minute; blocking(g) }, false},
		{"a nested group", func(g *Group) {
			var inner Group
			inner.Go(func(ctx context.Context) error { <-ctx.Done(); return nil })
			g.AddGroup(&inner)
		}, false},
		{"an HTTP server, which announces its readiness", func(g *Group) {
			g.Add(HTTPServer(&http.Server{Addr: "127.0.0.1:0"}))
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g Group
			g.Add(func() error {
				// A return during the start goes to the runner: return after it.
				for g.runState.claims && !g.runState.claimsOpen.Load() {
					runtime.Gosched()
				}
				return nil
			}, func(error) {}).Name("first")
			tc.set(&g)
			if err := g.Run(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := g.runState.claims; got != tc.claims {
				t.Errorf("claims allowed: %v, want %v", got, tc.claims)
			}
			if got := g.runState.claimedByActor; got != tc.claims {
				t.Errorf("the first return began the shutdown itself: %v, want %v", got, tc.claims)
			}
		})
	}
}

// A stop asked before any return is the runner's cause: its claim keeps
// the later returns from claiming, and its interrupts are its own.
func TestAStopBeforeAnyReturnIsTheRunnersClaim(t *testing.T) {
	var g Group
	started := make(chan struct{})
	g.Go(func(ctx context.Context) error { close(started); <-ctx.Done(); return nil })
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil })
	ran := make(chan error, 1)
	go func() { ran <- g.Run() }()
	<-started
	g.Stop()
	if err := <-ran; !errors.Is(err, ErrStopRequested) {
		t.Fatalf("Run: %v, want ErrStopRequested", err)
	}
	if !g.runState.claims || g.runState.claimedByActor {
		t.Errorf("claims allowed %v, claimed by an actor %v; want true, false", g.runState.claims, g.runState.claimedByActor)
	}
}

func returnsNowInternal() (func() error, func(error)) {
	return func() error { return nil }, func(error) {}
}

// A return during the start of a large group leaves the shutdown to the
// runner, which applies it once every actor has started (claim.go). So no
// interrupt is called for an actor still waiting to start, to start a
// moment later; and the group is Ready first, with claims or without (a
// logger turns them off).
func TestAReturnDuringTheStartWaitsForIt(t *testing.T) {
	const n = 400
	for _, logged := range []bool{false, true} {
		for range 20 {
			var g Group
			if logged {
				g.Logger = slog.New(slog.DiscardHandler)
			}
			g.Add(returnsNowInternal())
			var startedLate atomic.Int32
			for range n {
				var a *Actor
				a = g.Add(func() error { return nil }, func(error) {
					waited := false
					for {
						switch a.status() {
						case actorWaiting:
							waited = true
							continue // not started yet: watch on until it is
						case actorReady:
							if waited {
								startedLate.Add(1)
							}
						}
						return
					}
				})
			}
			if err := g.Run(); err != nil {
				t.Fatal(err)
			}
			if r := startedLate.Load(); r > 0 {
				t.Fatalf("logger %v: %d of %d actors started after their interrupt was called", logged, r, n)
			}
			if !g.status.wasReady() {
				t.Fatalf("logger %v: the group was never Ready, although every actor started", logged)
			}
		}
	}
}

// Stop claims the shutdown as it is asked, with its cause. A return that
// follows finds it claimed and reports itself through the runner, and its
// event may reach the runner before Stop's own: the stop is still the
// cause, for Run, the interrupts and readiness alike. Holding the status
// lock stalls Stop after its claim, so that the return's event comes
// first.
func TestAStopThatClaimedIsTheCauseWhicheverEventComesFirst(t *testing.T) {
	for range 100 {
		var g Group
		leave := make(chan struct{})
		var waiterCause error
		leaver := g.Add(func() error { <-leave; return nil }, func(error) {}).Name("leaver")
		g.Go(func(ctx context.Context) error {
			<-ctx.Done()
			waiterCause = context.Cause(ctx)
			return nil
		}).Name("waiter")
		ran := make(chan error, 1)
		go func() { ran <- g.Run() }()
		r := &g.runState
		for !r.claimsOpen.Load() {
			runtime.Gosched()
		}
		g.status.mu.Lock() // Stop, once it has claimed, waits here
		stopped := make(chan struct{})
		go func() { g.Stop(); close(stopped) }()
		for r.claim.Load() == nil {
			runtime.Gosched()
		}
		close(leave)
		for leaver.status() != actorStopped {
			runtime.Gosched() // until the runner has applied leaver's return, before Stop's event
		}
		g.status.mu.Unlock()
		err := <-ran
		<-stopped
		if !errors.Is(err, ErrStopRequested) || !errors.Is(waiterCause, ErrStopRequested) ||
			!errors.Is(g.status.stopCause(), ErrStopRequested) {
			t.Fatalf("Run: %v; interrupt's cause: %v; readiness's: %v; want the stop for all three",
				err, waiterCause, g.status.stopCause())
		}
	}
}
