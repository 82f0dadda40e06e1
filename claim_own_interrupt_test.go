package troupe_test

import (
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// The interrupt of the actor whose return begins the shutdown (claim.go)
// is called as any other's: its blocking delays none of the others,
// wherever it stands among them. Here it waits until every other
// interrupt has been called; had it been called first, on a goroutine the
// others' wait for, synctest would find the bubble deadlocked. The return
// comes a second after the start, on synctest's clock, so that it claims
// the shutdown rather than tell the runner.
func TestTheClaimantsOwnInterruptDelaysNoOther(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after int // actors added before and after the claimant
	}{
		{"alone", 0, 0},
		{"last", 1, 0},
		{"first", 0, 2},
		{"between", 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g troupe.Group
				others := tc.before + tc.after
				var called atomic.Int32
				allCalled := make(chan struct{})
				addOther := func() {
					stop := make(chan struct{})
					g.Add(func() error { <-stop; return nil }, func(error) {
						if called.Add(1) == int32(others) {
							close(allCalled)
						}
						close(stop)
					})
				}
				for range tc.before {
					addOther()
				}
				if others == 0 {
					close(allCalled)
				}
				var ownCalls atomic.Int32
				var ownCause error
				g.Add(func() error { time.Sleep(time.Second); return nil }, func(cause error) {
					ownCalls.Add(1)
					ownCause = cause
					<-allCalled
				}).Name("claimant")
				for range tc.after {
					addOther()
				}

				if err := g.Run(); err != nil {
					t.Fatalf("Run: %v", err)
				}
				if n := ownCalls.Load(); n != 1 {
					t.Fatalf("the claimant's interrupt was called %d times, want 1", n)
				}
				if n := called.Load(); n != int32(others) {
					t.Fatalf("%d of the other %d interrupts were called", n, others)
				}
				var ae *troupe.ActorError
				if !errors.As(ownCause, &ae) || ae.Actor != "claimant" || !errors.Is(ownCause, troupe.ErrReturned) {
					t.Fatalf("the claimant's interrupt got %v, want its own return", ownCause)
				}
			})
		})
	}
}

// A panic or a runtime.Goexit in the claimant's interrupt is the
// claimant's failure in Run's error, as from any interrupt, and the others
// are still called and waited for.
func TestTheClaimantsOwnInterruptFailingIsReported(t *testing.T) {
	for _, tc := range []struct {
		name      string
		interrupt func(error)
		want      string
	}{
		{"panic", func(error) { panic("own interrupt") }, "own interrupt"},
		{"Goexit", func(error) { runtime.Goexit() }, "runtime.Goexit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g troupe.Group
				stop := make(chan struct{})
				var otherCalled atomic.Bool
				g.Add(func() error { <-stop; return nil }, func(error) { otherCalled.Store(true); close(stop) }).Name("other")
				g.Add(func() error { time.Sleep(time.Second); return nil }, tc.interrupt).Name("claimant")

				err := g.Run()
				var ae *troupe.ActorError
				if !errors.As(err, &ae) || ae.Actor != "claimant" || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Run: %v, want the claimant's interrupt failure naming %q", err, tc.want)
				}
				if !otherCalled.Load() {
					t.Fatal("the other actor's interrupt was not called")
				}
			})
		})
	}
}
