package troupe_test

// Nested groups at their edges, found by trying to break them.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// ---------------------------------------------------------------------------
// Defects
// ---------------------------------------------------------------------------

// Run's contract: a misconfigured group "still calls every interrupt once,
// so that pairs release what they took". The contract of the feature: every
// interrupt at every level is called exactly once. When the OUTER group is
// refused, the nested group's interrupt only records a stop cause on the
// inner group, which then never runs: the inner actors' interrupts are
// never called.
func TestARefusedOuterGroupStillInterruptsNestedActors(t *testing.T) {
	var outer, inner troupe.Group
	held := newProbe(nil) // stands for a listener, a signal registration
	inner.Add(held.execute, held.interrupt).Name("listener")
	outer.AddGroup(&inner).Name("workers")
	outer.Add(nil, func(error) {}).Name("broken") // outer's own problem
	err := outer.Run()
	if !errors.Is(err, troupe.ErrInvalid) {
		t.Fatalf("Run() = %v, want ErrInvalid", err)
	}
	if n := held.calls.Load(); n != 1 {
		t.Errorf("workers/listener's interrupt was called %d times after Run refused the group, want exactly once", n)
	}
}

// The same when the problem is inside the nested group: its valid actors'
// interrupts are never called.
func TestARefusedInnerGroupStillInterruptsItsValidActors(t *testing.T) {
	var outer, inner troupe.Group
	held := newProbe(nil)
	inner.Add(held.execute, held.interrupt).Name("listener")
	inner.Add(nil, func(error) {}).Name("broken")
	outer.AddGroup(&inner).Name("workers")
	err := outer.Run()
	if !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), `actor "workers/broken": nil execute function`) {
		t.Fatalf("Run() = %v, want ErrInvalid naming workers/broken", err)
	}
	if n := held.calls.Load(); n != 1 {
		t.Errorf("workers/listener's interrupt was called %d times after Run refused the group, want exactly once", n)
	}
}

// Three levels: root's shutdown begins AFTER mid's (and leaves') had, and
// root has a deadline. mid learns root's deadline (record, stopAsked) and
// stops waiting at it; but mid had already asked leaves to stop, and never
// tells leaves of the new, earlier deadline. So leaves, which has no
// deadline of its own, never stops waiting: its Run outlives the outermost
// Run, and never reports its straggler.
func TestTheInnermostGroupKeepsARootDeadlineThatCameLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &capture{}
		root := troupe.Group{Logger: slog.New(h), ShutdownTimeout: time.Second}
		var mid, leaves troupe.Group
		stuck := newStubborn()
		leaves.Add(stuck.execute, stuck.interrupt).Name("stuck")
		mid.AddGroup(&leaves).Name("leaves")
		mid.Add(afterInnerStarted(&leaves)).Name("early") // mid's shutdown begins once leaves runs
		root.AddGroup(&mid).Name("mid")
		// root's shutdown begins only once mid's has reached stuck.
		root.Add(func() error { <-stuck.interrupted; return nil }, func(error) {}).Name("trigger")

		start := time.Now()
		err := root.Run()
		if want, have := time.Second, time.Since(start); want != have {
			t.Errorf("root.Run took %v, want root's deadline %v", have, want)
		}
		if !errors.Is(err, troupe.ErrShutdownTimeout) {
			t.Errorf("root.Run() = %v, want a TimeoutError", err)
		}
		synctest.Wait()
		atDeadline := slices.Clone(h.events())
		time.Sleep(time.Hour) // fake time: an hour after the outermost Run returned
		synctest.Wait()
		anHourLater := slices.Clone(h.events())
		close(stuck.letGo)
		synctest.Wait()

		want := "actor still running at shutdown deadline actor=mid/leaves/stuck"
		if !slices.Contains(atDeadline, want) {
			t.Errorf("leaves did not stop waiting at root's deadline: no %q when root.Run returned (nor an hour later: %v);\nlog: %q",
				want, slices.Contains(anHourLater, want), atDeadline)
		}
	})
}

// A group that is already running on its own can be added to another, and
// the other's Run then reaches into it: the nested actor's Run returns
// ErrAlreadyRun (after outer has started its other actors), and outer's
// interrupt of that actor stops the independent Run, with outer's cause.
func TestAddGroupOfARunningGroupIsRefusedAndLeavesItAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var inner, outer troupe.Group
		own := newProbe(nil)
		inner.Add(own.execute, own.interrupt).Name("own")
		innerDone := make(chan error, 1)
		go func() { innerDone <- inner.Run() }()
		synctest.Wait() // inner runs on its own; own waits for its interrupt

		outer.AddGroup(&inner).Name("workers")
		var serverStarted atomic.Bool
		outer.Go(func(ctx context.Context) error { serverStarted.Store(true); <-ctx.Done(); return nil }).Name("server")
		err := outer.Run()
		synctest.Wait()
		calls, cause := own.calls.Load(), own.gotCause()
		own.release()
		innerErr := <-innerDone

		t.Logf("outer.Run() = %v; server started: %v", err, serverStarted.Load())
		if calls != 0 {
			t.Errorf("outer's Run stopped inner's independent Run: own interrupted with cause %q (inner.Run() = %v)", cause, innerErr)
		}
		if !errors.Is(err, troupe.ErrInvalid) || serverStarted.Load() {
			t.Errorf("outer.Run() = %v, server started %v; want ErrInvalid before anything starts", err, serverStarted.Load())
		}
	})
}

// ---------------------------------------------------------------------------
// Attacks that held (these pass)
// ---------------------------------------------------------------------------

// Outer's stop races inner's start: an outer actor that returns at once
// makes outer interrupt the nested group before, during or just after
// inner.run publishes its runner. Whatever the order: every inner interrupt
// exactly once, Run returns nil, nothing leaks (goleak).
func TestAStopRacingANestedStartInterruptsEachActorOnce(t *testing.T) {
	unstarted := 0
	for range 300 {
		var outer, inner troupe.Group
		probes := make([]*probe, 4)
		for i := range probes {
			probes[i] = newProbe(nil)
			inner.Add(probes[i].execute, probes[i].interrupt)
		}
		outer.Add(returnsNow(nil)).Name("quick")
		outer.AddGroup(&inner).Name("workers")
		if err := outer.Run(); err != nil {
			t.Fatalf("Run() = %v", err)
		}
		ran := false
		for i, p := range probes {
			if n := p.calls.Load(); n != 1 {
				t.Fatalf("probe %d interrupted %d times", i, n)
			}
			select {
			case <-p.returned:
				ran = true
			default:
			}
		}
		if !ran {
			unstarted++
		}
	}
	t.Logf("%d of 300 runs stopped inner before it began", unstarted)
}

// Three levels of log names, with a Group.Restart at the bottom.
func TestThreeLevelsLogComposedNamesAlsoForRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &capture{}
		root := troupe.Group{Logger: slog.New(h)}
		var mid, leaves troupe.Group
		attempts := 0
		leaves.Restart(func() (func() error, func(error)) {
			attempts++
			if attempts == 1 {
				return returnsNow(errors.New("flaky"))
			}
			return troupe.Func(func(ctx context.Context) error { <-ctx.Done(); return nil })
		}, troupe.Backoff(time.Second, time.Second, 1), troupe.BackoffJitter(0)).Name("consumer")
		mid.AddGroup(&leaves).Name("leaves")
		root.AddGroup(&mid).Name("mid")
		root.Add(func() error { time.Sleep(time.Minute); return nil }, func(error) {}).Name("trigger")
		if err := root.Run(); err != nil {
			t.Fatal(err)
		}
		attrs, ok := h.find("attempt ended; restarting")
		if !ok || attrs["actor"] != "mid/leaves/consumer" {
			t.Errorf("restart log: %v", attrs)
		}
		for _, want := range []string{"actor started actor=mid/leaves/consumer", "actor returned actor=mid/leaves/consumer", "actor started actor=mid/leaves"} {
			if !slices.Contains(h.events(), want) {
				t.Errorf("no %q in %q", want, h.events())
			}
		}
	})
}

// A signal in a nested group is a requested stop at every level.
func TestANestedSignalStopExitsZero(t *testing.T) {
	var outer, inner troupe.Group
	inner.Add(returnsNow(&troupe.SignalError{Signal: os.Interrupt})).Name("signals")
	inner.Go(func(ctx context.Context) error { <-ctx.Done(); return nil })
	outer.AddGroup(&inner).Name("workers")
	outer.Go(func(ctx context.Context) error { <-ctx.Done(); return nil })
	err := outer.Run()
	if !errors.Is(err, troupe.ErrSignal) || troupe.ExitCode(err) != 0 {
		t.Fatalf("Run() = %v, ExitCode %d", err, troupe.ExitCode(err))
	}
}

// A OneShot nested group returns early; outer's later stop lands in its
// finished runner's buffer without blocking. Zero-actor inner groups too.
func TestOneShotAndEmptyNestedGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var outer, inner, empty troupe.Group
		inner.Add(returnsNow(nil)).OneShot()
		outer.AddGroup(&inner).Name("migrate").OneShot()
		outer.AddGroup(&empty).Name("empty").OneShot()
		outer.Add(func() error { time.Sleep(time.Second); return nil }, func(error) {}).Name("trigger")
		if err := outer.Run(); err != nil {
			t.Fatal(err)
		}
		var lone, bare troupe.Group
		lone.AddGroup(&bare).Name("empty")
		if err := lone.Run(); err != nil {
			t.Fatal(err)
		}
	})
}

// Stragglers of an inner group that returned at its deadline fill its
// events buffer; outer's stop comes afterwards (workers StopAfter gate) and
// still has room.
func TestAStopAfterTheNestedGroupReturnedFindsRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var outer troupe.Group
		inner := troupe.Group{ShutdownTimeout: time.Second}
		stuck := make([]*stubborn, 5)
		for i := range stuck {
			stuck[i] = newStubborn()
			inner.Add(stuck[i].execute, stuck[i].interrupt).Timeout(time.Hour)
		}
		inner.Add(returnsNow(nil)).Name("early")
		gateOpen := make(chan struct{})
		outer.AddGroup(&inner).Name("workers").StopAfter("gate")
		outer.Add(func() error { <-gateOpen; return nil }, func(error) {}).Name("gate")
		done := make(chan error, 1)
		go func() { done <- outer.Run() }()
		time.Sleep(2 * time.Second) // inner has returned at its deadline
		synctest.Wait()
		for _, s := range stuck {
			close(s.letGo)
		}
		synctest.Wait()
		close(gateOpen)
		err := <-done
		if !errors.Is(err, troupe.ErrShutdownTimeout) {
			t.Fatalf("Run() = %v", err)
		}
	})
}

// Inner later in outer's stop order; and outer's db stops after inner's
// actors have all returned. The shutdown begins once consumer runs: a
// group stopped before it began starts nothing, and consumer would then
// never return at all.
func TestStopStagesAcrossLevels(t *testing.T) {
	var outer, inner troupe.Group
	var innerDone atomic.Bool
	consumerRuns := make(chan struct{})
	inner.Go(func(ctx context.Context) error {
		close(consumerRuns)
		<-ctx.Done()
		innerDone.Store(true)
		return nil
	}).Name("consumer")
	outer.AddGroup(&inner).Name("workers").StopAfter("server")
	outer.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("server")
	var dbSawInnerDone atomic.Bool
	outer.Add(func() error { return nil }, func(error) { dbSawInnerDone.Store(innerDone.Load()) }).Name("db").StopAfter("workers").OneShot()
	fire, ran := runUntilFired(&outer, nil)
	<-consumerRuns
	close(fire)
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if !dbSawInnerDone.Load() {
		t.Error("db interrupted before workers/consumer returned")
	}
}

// Deadlines, two levels and three, where the outer shutdown begins first
// or at once: inner stops at the earliest applicable deadline.
func TestNestedDeadlinesTighten(t *testing.T) {
	cases := []struct {
		name               string
		outer, inner       time.Duration
		innerFirst         time.Duration // inner's shutdown begins this long before outer's
		want               time.Duration // from outer's shutdown to outer.Run's return
		wantInnerStraggler bool
	}{
		{"outer earlier", time.Second, time.Hour, 0, time.Second, true},
		{"inner earlier", time.Hour, time.Second, 0, time.Second, true},
		{"inner began first, outer's deadline later", 2 * time.Second, 0, 5 * time.Second, 2 * time.Second, true},
		{"inner began first, its own deadline passes first", 10 * time.Second, 6 * time.Second, 5 * time.Second, time.Second, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &capture{}
				outer := troupe.Group{Logger: slog.New(h), ShutdownTimeout: c.outer}
				inner := troupe.Group{ShutdownTimeout: c.inner}
				stuck := newStubborn()
				inner.Add(stuck.execute, stuck.interrupt).Name("stuck")
				if c.innerFirst > 0 {
					inner.Add(afterInnerStarted(&inner)).Name("early")
				}
				outer.AddGroup(&inner).Name("workers")
				var began time.Time
				outer.Add(func() error {
					if c.innerFirst > 0 {
						<-stuck.interrupted
						time.Sleep(c.innerFirst)
					} else {
						synctest.Wait()
					}
					began = time.Now()
					return nil
				}, func(error) {}).Name("trigger")
				err := outer.Run()
				took := time.Since(began)
				synctest.Wait()
				close(stuck.letGo)
				if !errors.Is(err, troupe.ErrShutdownTimeout) || took != c.want {
					t.Errorf("Run() = %v after %v, want a timeout after %v", err, took, c.want)
				}
				if c.wantInnerStraggler && !slices.Contains(h.events(), "actor still running at shutdown deadline actor=workers/stuck") {
					t.Errorf("inner did not report its straggler: %q", h.events())
				}
			})
		})
	}
}

// Control for TestTheInnermostGroupKeepsARootDeadlineThatCameLate:
// the same three levels, but root's shutdown begins first; leaves stops at
// root's deadline.
func TestThreeLevelsWhenTheRootStopsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &capture{}
		root := troupe.Group{Logger: slog.New(h), ShutdownTimeout: time.Second}
		mid := troupe.Group{ShutdownTimeout: time.Hour}
		leaves := troupe.Group{ShutdownTimeout: 2 * time.Hour}
		stuck := newStubborn()
		leaves.Add(stuck.execute, stuck.interrupt).Name("stuck")
		mid.AddGroup(&leaves).Name("leaves")
		root.AddGroup(&mid).Name("mid")
		root.Add(func() error { synctest.Wait(); return nil }, func(error) {}).Name("trigger")
		start := time.Now()
		root.Run()
		took := time.Since(start)
		synctest.Wait()
		close(stuck.letGo)
		if took != time.Second || !slices.Contains(h.events(), "actor still running at shutdown deadline actor=mid/leaves/stuck") {
			t.Errorf("took %v; log %q", took, h.events())
		}
	})
}

// Lock order: AddGroup locks outer then (separately) inner; checkNested
// locks inner alone. Cross-adding concurrently must not deadlock, and a
// cycle is refused.
func TestCrossAddGroupNeitherDeadlocksNorRuns(t *testing.T) {
	for range 200 {
		var a, b troupe.Group
		done := make(chan struct{})
		go func() { a.AddGroup(&b).Name("b"); close(done) }()
		b.AddGroup(&a).Name("a")
		<-done
		if err := a.Run(); !errors.Is(err, troupe.ErrInvalid) {
			t.Fatalf("a.Run() = %v", err)
		}
	}
	var root, x, y troupe.Group
	root.AddGroup(&x).Name("x")
	x.AddGroup(&y).Name("y")
	y.AddGroup(&x).Name("x-again")
	if err := root.Run(); !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), "nested in itself") {
		t.Fatalf("root.Run() = %v", err)
	}
}

// Outer's cause reaches inner's Add interrupts through errors.Is/As, and
// the error of an inner failure nests.
func TestNestedCausesAndErrorsNest(t *testing.T) {
	var outer, inner troupe.Group
	p := newProbe(nil)
	inner.Add(p.execute, p.interrupt).Name("p")
	outer.AddGroup(&inner).Name("workers")
	boom := errors.New("boom")
	outer.Add(returnsNow(boom)).Name("db")
	err := outer.Run()
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	var ae *troupe.ActorError
	if c := p.gotCause(); c == nil || (!errors.Is(c, boom) || !errors.As(c, &ae) || ae.Actor != "db") {
		t.Errorf("inner cause %v", c)
	}
}

// Black-box form of TestAGroupStoppedBeforeItBeginsInterruptsGrandchildren:
// root stops mid as it starts (an actor of root returns at once); in the
// runs where the stop wins the race, mid starts nothing and releases its
// actors, but leaves, nested in mid, never has its interrupts called.
func TestAStopRacingStartInterruptsGrandchildren(t *testing.T) {
	missed := 0
	for range 500 {
		var root, mid, leaves troupe.Group
		held := newProbe(nil)
		leaves.Add(held.execute, held.interrupt).Name("listener")
		mid.AddGroup(&leaves).Name("leaves")
		root.Add(returnsNow(nil)).Name("quick")
		root.AddGroup(&mid).Name("mid")
		if err := root.Run(); err != nil {
			t.Fatalf("Run() = %v", err)
		}
		if held.calls.Load() != 1 {
			missed++
		}
	}
	if missed > 0 {
		t.Errorf("in %d of 500 runs, mid/leaves/listener's interrupt was never called", missed)
	}
}

// Two groups each nested in the other leave no group outside the cycle
// to run. The AddGroup that closes it is refused, so the first group can
// still run: its Run returns ErrInvalid and calls every interrupt of both
// once, as for any refused group. So for a longer cycle, whichever group
// is run.
func TestANestingCycleWithNoOuterGroupCallsEveryInterrupt(t *testing.T) {
	for _, size := range []int{2, 3} {
		groups := make([]*troupe.Group, size)
		called := make([]atomic.Int32, size)
		for i := range groups {
			groups[i] = new(troupe.Group)
			groups[i].Add(func() error { return nil }, func(error) { called[i].Add(1) })
		}
		for i, g := range groups {
			g.AddGroup(groups[(i+1)%size]).Name(fmt.Sprint("inner-", (i+1)%size))
		}
		err := groups[0].Run()
		if !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), "nested in itself") {
			t.Fatalf("cycle of %d: Run() = %v, want ErrInvalid naming the cycle", size, err)
		}
		for i := range called {
			if n := called[i].Load(); n != 1 {
				t.Errorf("cycle of %d: group %d's interrupt called %d times, want once", size, i, n)
			}
		}
		for i := 1; i < size; i++ {
			if err := groups[i].Run(); !errors.Is(err, troupe.ErrInvalid) && !errors.Is(err, troupe.ErrAlreadyRun) {
				t.Errorf("cycle of %d: group %d's own Run() = %v", size, i, err)
			}
		}
	}
}

// A nesting that Run will refuse for a reason of its own (here a nil
// ReadyWhen check) is still a nesting, and closing a cycle through it is
// refused too: the group left free runs, is refused, and calls every
// interrupt once. review 2 (helper 26) found the cycle accepted.
func TestACycleThroughAnInvalidNestingIsRefusedToo(t *testing.T) {
	var a, b troupe.Group
	var calledA, calledB atomic.Int32
	a.Add(func() error { return nil }, func(error) { calledA.Add(1) }).Name("a-worker")
	b.Add(func() error { return nil }, func(error) { calledB.Add(1) }).Name("b-worker")
	a.AddGroup(&b).Name("b").ReadyWhen(nil)
	b.AddGroup(&a).Name("a")
	err := a.Run()
	if !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), "nil ReadyWhen check") ||
		!strings.Contains(err.Error(), "nested in itself") {
		t.Fatalf("Run: %v, want ErrInvalid naming the nil check and the cycle", err)
	}
	if calledA.Load() != 1 || calledB.Load() != 1 {
		t.Fatalf("interrupts called: a-worker %d, b-worker %d; want once each", calledA.Load(), calledB.Load())
	}
}

// A nil ReadyWhen check on an actor AddGroup refused leaves the refusal,
// which says more, as the reason Run gives.
func TestANilCheckKeepsAnEarlierRefusal(t *testing.T) {
	var inner, first, second troupe.Group
	inner.Add(func() error { return nil }, func(error) {})
	first.AddGroup(&inner)
	second.AddGroup(&inner).Name("again").ReadyWhen(nil)
	err := second.Run()
	if !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), "already an actor of another group") {
		t.Fatalf("Run: %v, want the refusal of a group nested twice", err)
	}
}
