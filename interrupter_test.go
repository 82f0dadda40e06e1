package troupe_test

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// errRunHung is what runWithinErr gives when Run has not returned within
// a bound far above what the tests need: a hang is the failure looked for.
var errRunHung = errors.New("troupe test: Run did not return within a minute: an interrupt waited for another")

// runWithinErr runs g, giving Run's error or errRunHung; it may be called
// from any goroutine.
func runWithinErr(g *troupe.Group) error {
	done := make(chan error, 1)
	go func() { done <- g.Run() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		return errRunHung
	}
}

// runWithin is runWithinErr that fails the test at once on a hang.
func runWithin(t *testing.T, g *troupe.Group) error {
	t.Helper()
	err := runWithinErr(g)
	if errors.Is(err, errRunHung) {
		t.Fatal(err)
	}
	return err
}

// Every interrupt of a stage begins while the others block: each one
// blocks until all of them have begun, so an interrupt that waited for
// another to return would hang the group.
func TestEveryInterruptOfAStageBeginsWhileTheOthersBlock(t *testing.T) {
	for _, n := range []int{2, 3, 17, 300} {
		var g troupe.Group
		var begun sync.WaitGroup
		begun.Add(n)
		allBegun := make(chan struct{})
		go func() { begun.Wait(); close(allBegun) }()
		for range n {
			stop := make(chan struct{})
			g.Add(func() error { <-stop; return nil }, func(error) {
				begun.Done()
				<-allBegun
				close(stop)
			})
		}
		g.Add(returnsNow(nil))
		if err := runWithin(t, &g); err != nil {
			t.Fatalf("n=%d: Run() = %v, want nil", n, err)
		}
	}
}

// An interrupt that calls runtime.Goexit, or panics, ends only its own
// call: the interrupts after it in its stage are still called, and Run
// reports it.
func TestAnInterruptThatGoexitsOrPanicsLeavesTheRestOfItsStageCalled(t *testing.T) {
	for _, how := range []string{"goexit", "panic"} {
		var g troupe.Group
		var called atomic.Int32
		const n = 50
		for i := range n {
			stop := make(chan struct{})
			g.Add(func() error { <-stop; return nil }, func(error) {
				called.Add(1)
				close(stop)
				if i%10 == 0 {
					if how == "goexit" {
						runtime.Goexit()
					}
					panic("interrupt " + how)
				}
			})
		}
		g.Add(returnsNow(nil))
		err := runWithin(t, &g)
		if got := called.Load(); got != n {
			t.Errorf("%s: %d interrupts called, want %d", how, got, n)
		}
		want := "interrupt called runtime.Goexit"
		if how == "panic" {
			want = "panic: interrupt panic"
		}
		if err == nil || strings.Count(err.Error(), want) != n/10 {
			t.Errorf("%s: Run() = %v, want %d errors saying %q", how, err, n/10, want)
		}
		var pe *troupe.PanicError
		if how == "panic" && !errors.As(err, &pe) {
			t.Errorf("Run() = %v, want a *PanicError", err)
		}
	}
}

// Interrupts that block and interrupts that return at once, mixed in one
// stage: the quick ones all complete while the blocking ones still block.
func TestQuickInterruptsAreNotHeldBehindBlockingOnes(t *testing.T) {
	var g troupe.Group
	const n = 100
	var quick sync.WaitGroup
	release := make(chan struct{})
	for i := range n {
		stop := make(chan struct{})
		if i%4 == 0 {
			g.Add(func() error { <-stop; return nil }, func(error) { <-release; close(stop) })
			continue
		}
		quick.Add(1)
		g.Add(func() error { <-stop; quick.Done(); return nil }, func(error) { close(stop) })
	}
	g.Add(returnsNow(nil))
	go func() { quick.Wait(); close(release) }()
	if err := runWithin(t, &g); err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
}
