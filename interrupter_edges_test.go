package troupe_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
	"go.uber.org/goleak"
)

// allBegin builds a stage of n actors whose interrupts each block, in the
// way block says, until every one of the n has begun. An interrupt that
// waits for another to return hangs the group: runWithin reports it.
func allBegin(t *testing.T, g *troupe.Group, n int, block func(i int, begun *atomic.Int32, all <-chan struct{})) (calls []atomic.Int32) {
	t.Helper()
	calls = make([]atomic.Int32, n)
	var begun atomic.Int32
	all := make(chan struct{})
	for i := range n {
		stop := make(chan struct{})
		g.Add(func() error { <-stop; return nil }, func(error) {
			calls[i].Add(1)
			if begun.Add(1) == int32(n) {
				close(all)
			}
			block(i, &begun, all)
			close(stop)
		})
	}
	return calls
}

func checkOnce(t *testing.T, what string, calls []atomic.Int32) {
	t.Helper()
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Errorf("%s: interrupt %d called %d times, want 1", what, i, c)
		}
	}
}

func withProcs(t *testing.T, n int) {
	old := runtime.GOMAXPROCS(n)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

// With one processor, interrupts that park until all have begun.
func TestInterruptsThatParkAllBeginOnOneProcessor(t *testing.T) {
	withProcs(t, 1)
	for _, n := range []int{1, 2, 3, 64, 500} {
		var g troupe.Group
		calls := allBegin(t, &g, n, func(_ int, _ *atomic.Int32, all <-chan struct{}) { <-all })
		g.Add(returnsNow(nil))
		if err := runWithin(t, &g); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		checkOnce(t, fmt.Sprint("n=", n), calls)
	}
}

// With one processor, interrupts that spin, with no function call in the
// loop, until all have begun: only asynchronous preemption lets another
// run.
func TestInterruptsThatSpinAllBeginOnOneProcessor(t *testing.T) {
	withProcs(t, 1)
	for _, n := range []int{2, 3, 20} {
		var g troupe.Group
		calls := allBegin(t, &g, n, func(_ int, begun *atomic.Int32, _ <-chan struct{}) {
			for begun.Load() < int32(n) {
			}
		})
		g.Add(returnsNow(nil))
		if err := runWithin(t, &g); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		checkOnce(t, fmt.Sprint("n=", n), calls)
	}
}

// Goexit or panic at every position of stages of several sizes, the
// others blocking until the rest have begun: every interrupt is called
// once, and Run returns.
func TestAGoexitOrPanicAtAnyPositionLeavesTheRestCalled(t *testing.T) {
	for _, procs := range []int{1, 2} {
		withProcs(t, procs)
		for _, how := range []string{"goexit", "panic", "goexit-all", "panic-all"} {
			for _, n := range []int{1, 2, 3, 5} {
				for bad := range n {
					var g troupe.Group
					var begun atomic.Int32
					all := make(chan struct{})
					calls := make([]atomic.Int32, n)
					for i := range n {
						stop := make(chan struct{})
						g.Add(func() error { <-stop; return nil }, func(error) {
							calls[i].Add(1)
							if begun.Add(1) == int32(n) {
								close(all)
							}
							if i == bad || strings.HasSuffix(how, "-all") {
								close(stop)
								if strings.HasPrefix(how, "goexit") {
									runtime.Goexit()
								}
								panic("boom")
							}
							<-all
							close(stop)
						})
					}
					g.Add(returnsNow(nil))
					err := runWithinErr(&g)
					what := fmt.Sprintf("procs=%d %s n=%d bad=%d", procs, how, n, bad)
					if err == nil {
						t.Errorf("%s: Run() = nil, want the interrupt's failure", what)
					} else if strings.Contains(err.Error(), "within a minute") {
						t.Fatalf("%s: %v", what, err)
					}
					checkOnce(t, what, calls)
				}
			}
		}
	}
}

// Nested groups, each stopped by its interrupt (the inner group's stop),
// whose own interrupts block until every interrupt at every depth has
// begun.
func TestInterruptsAtEveryDepthOfNestedGroupsAllBegin(t *testing.T) {
	for _, procs := range []int{1, 2} {
		withProcs(t, procs)
		const groups, each = 8, 8
		var g troupe.Group
		var begun atomic.Int32
		all := make(chan struct{})
		calls := make([]atomic.Int32, groups*each)
		for k := range groups {
			var inner troupe.Group
			for j := range each {
				i := k*each + j
				stop := make(chan struct{})
				inner.Add(func() error { <-stop; return nil }, func(error) {
					calls[i].Add(1)
					if begun.Add(1) == groups*each {
						close(all)
					}
					<-all
					close(stop)
				})
			}
			g.AddGroup(&inner)
		}
		g.Add(returnsNow(nil))
		if err := runWithinErr(&g); err != nil {
			t.Fatalf("procs=%d: %v", procs, err)
		}
		checkOnce(t, fmt.Sprint("procs=", procs), calls)
	}
}

// ShutdownTimeout passes while the first stage holds: the later stage's
// interrupts are called, each once, and the stragglers named are exactly
// the actors whose execute still runs.
func TestADeadlineCallsTheLaterStagesInterruptsOnce(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const later = 50
	var g troupe.Group
	g.ShutdownTimeout = 50 * time.Millisecond
	hold := make(chan struct{})
	stuckExec := make(chan struct{})
	g.Add(func() error { <-stuckExec; return nil }, func(error) {}).Name("stuck")
	calls := make([]atomic.Int32, later)
	var wg sync.WaitGroup
	wg.Add(later)
	for i := range later {
		stop := make(chan struct{})
		g.Add(func() error { <-stop; return nil }, func(error) {
			defer wg.Done()
			calls[i].Add(1)
			if i%2 == 0 {
				<-hold
			}
			close(stop)
		}).Name(fmt.Sprintf("later-%d", i)).StopAfter("stuck")
	}
	g.Add(returnsNow(nil)).Name("first")
	err := runWithinErr(&g)
	var te *troupe.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("Run() = %v, want a TimeoutError", err)
	}
	// "stuck" and the later actors whose interrupts block must be named
	// (the others' executes may or may not have returned by then; "first"
	// may be named if its interrupt has not ended by the deadline).
	named := map[string]bool{}
	for _, s := range te.Stragglers {
		named[s] = true
	}
	if !named["stuck"] {
		t.Errorf("stragglers %v: want stuck", te.Stragglers)
	}
	for i := range later {
		if i%2 == 0 && !named[fmt.Sprintf("later-%d", i)] {
			t.Errorf("stragglers %v: want later-%d, whose interrupt and execute block", te.Stragglers, i)
		}
	}
	close(hold)
	wg.Wait()
	close(stuckExec)
	checkOnce(t, "later", calls)
}

// ShutdownTimeout passes at once, while most of the stage's interrupts are
// still untaken: Run names every actor whose execute still runs, and each
// interrupt is still called exactly once, after Run has returned; nothing
// is left running once they are let go.
func TestADeadlineWhileInterruptsAreUntakenStillCallsEach(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, procs := range []int{1, 2} {
		withProcs(t, procs)
		const n = 1000
		var g troupe.Group
		g.ShutdownTimeout = time.Nanosecond
		release := make(chan struct{})
		calls := make([]atomic.Int32, n)
		var ended sync.WaitGroup
		ended.Add(2 * n)
		for i := range n {
			stop := make(chan struct{})
			a := g.Add(func() error { defer ended.Done(); <-stop; return nil }, func(error) {
				defer ended.Done()
				calls[i].Add(1)
				<-release
				close(stop)
			}).Name(fmt.Sprint("a", i))
			if i%3 == 0 {
				a.Timeout(time.Nanosecond)
			}
		}
		g.Add(returnsNow(nil)).Name("first")
		err := runWithinErr(&g)
		var te *troupe.TimeoutError
		if !errors.As(err, &te) {
			t.Fatalf("procs=%d: Run() = %v, want a TimeoutError", procs, err)
		}
		named := map[string]bool{}
		for _, s := range te.Stragglers {
			named[s] = true
			if !strings.HasPrefix(s, "a") && s != "first" {
				t.Errorf("procs=%d: straggler %q", procs, s)
			}
		}
		for i := range n {
			if !named[fmt.Sprint("a", i)] {
				t.Errorf("procs=%d: a%d not named, though its execute still runs", procs, i)
			}
		}
		close(release)
		ended.Wait()
		checkOnce(t, fmt.Sprint("procs=", procs), calls)
	}
}

// Nested groups that never start (what they start after is never ready):
// the outer interrupt stops each and then releases it on the interrupter,
// which calls the inner interrupts; every interrupt at every depth begins
// while the others block.
func TestNeverStartedNestedGroupsAreReleasedWhileOthersBlock(t *testing.T) {
	for _, procs := range []int{1, 2} {
		withProcs(t, procs)
		const groups, each, outerBlocking = 6, 5, 10
		total := groups*each + outerBlocking
		var g troupe.Group
		var begun atomic.Int32
		all := make(chan struct{})
		calls := make([]atomic.Int32, total)
		enter := func(i int) {
			calls[i].Add(1)
			if begun.Add(1) == int32(total) {
				close(all)
			}
			<-all
		}
		never := make(chan struct{})
		g.Go(blockUntilDone).Name("gate").ReadyWhen(readyOn(never))
		for k := range groups {
			var inner troupe.Group
			for j := range each {
				i := k*each + j
				inner.Add(func() error { return nil }, func(error) { enter(i) })
			}
			g.AddGroup(&inner).Name(fmt.Sprint("inner", k)).StartAfter("gate")
		}
		for j := range outerBlocking {
			i := groups*each + j
			stop := make(chan struct{})
			g.Add(func() error { <-stop; return nil }, func(error) { enter(i); close(stop) })
		}
		g.Add(returnsNow(errors.New("go")))
		err := runWithinErr(&g)
		if err == nil || strings.Contains(err.Error(), "within a minute") {
			t.Fatalf("procs=%d: Run() = %v", procs, err)
		}
		var ns *troupe.NotStartedError
		if !errors.As(err, &ns) || len(ns.Actors) != groups {
			t.Errorf("procs=%d: Run() = %v, want %d not started", procs, err, groups)
		}
		checkOnce(t, fmt.Sprint("procs=", procs), calls)
	}
}

// In fake time: a stage of actors whose interrupts block and whose own
// Timeouts settle the stage; the next stage is interrupted exactly when
// those Timeouts pass, counted from each interrupt's call, and every
// interrupt is called once; Run then names exactly the actors still
// running.
func TestOwnTimeoutsSettleAStageOfBlockingInterrupts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 200
		var g troupe.Group
		g.ShutdownTimeout = 5 * time.Second
		release := make(chan struct{})
		first := make([]atomic.Int32, n)
		second := make([]atomic.Int32, n)
		var secondAt sync.Map
		names := make([]string, n)
		var t0 time.Time
		for i := range n {
			names[i] = fmt.Sprint("s0-", i)
			stop := make(chan struct{})
			g.Add(func() error { <-stop; return nil }, func(error) {
				first[i].Add(1)
				<-release
				close(stop)
			}).Name(names[i]).Timeout(time.Second)
		}
		for i := range n {
			stop := make(chan struct{})
			g.Add(func() error { <-stop; return nil }, func(error) {
				second[i].Add(1)
				secondAt.Store(i, time.Since(t0))
				close(stop)
			}).Name(fmt.Sprint("s1-", i)).StopAfter(names...)
		}
		g.Add(func() error { t0 = time.Now(); return nil }, func(error) {}).Name("first")
		err := g.Run()
		if d := time.Since(t0); d != time.Second {
			t.Errorf("Run returned after %v, want 1s: every stage done then", d)
		}
		var te *troupe.TimeoutError
		if !errors.As(err, &te) || len(te.Stragglers) != n {
			t.Errorf("Run() = %v, want a TimeoutError naming the %d actors of the first stage", err, n)
		} else {
			for _, s := range te.Stragglers {
				if !strings.HasPrefix(s, "s0-") {
					t.Errorf("straggler %q, want only the first stage's", s)
				}
			}
		}
		secondAt.Range(func(k, v any) bool {
			if v.(time.Duration) != time.Second {
				t.Errorf("s1-%d interrupted at %v, want 1s", k, v)
			}
			return true
		})
		close(release)
		synctest.Wait()
		checkOnce(t, "first stage", first)
		checkOnce(t, "second stage", second)
	})
}
