package troupe

import (
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The enclosing group stops a nested group before it began (the race the
// project's own TestAGroupStoppedBeforeItBeginsStartsNothing sets up with
// stop then run). The nested group releases its actors, but a group nested
// in IT only gets a stop cause and never runs: the grandchildren's
// interrupts are never called.
func TestAGroupStoppedBeforeItBeginsInterruptsGrandchildren(t *testing.T) {
	var mid, leaves Group
	var calls atomic.Int32
	leaves.Add(func() error { return nil }, func(error) { calls.Add(1) }).Name("listener")
	mid.AddGroup(&leaves).Name("leaves")
	mid.stop(errors.New("the enclosing group stops"))
	if err := mid.run(nesting{}); err != nil {
		t.Fatalf("run() = %v, want nil", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("leaves/listener's interrupt called %d times, want exactly once", n)
	}
}

// A nested group stopped before it began waits for its interrupts up to its
// own ShutdownTimeout only, not up to the enclosing group's deadline: "inner
// stops waiting when either passes" holds for a started inner group (it
// returns at the enclosing deadline) but not for this one.
func TestAGroupStoppedBeforeItBeginsKeepsTheEnclosingDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := Group{ShutdownTimeout: time.Hour}
		release := make(chan struct{})
		g.Add(func() error { return nil }, func(error) { <-release }).Name("slow-release")
		// What the enclosing Run does: its shutdown's deadline is set (in
		// awaitCause) before it calls the nested actor's interrupt with its
		// cause, which carries its Run.
		parent := &runLife{}
		parent.setDeadline(time.Now().Add(time.Second))
		g.stop(&ActorError{Actor: "trigger", Err: ErrReturned, run: parent})

		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- g.run(nesting{parent: parent, prefix: "workers/"}) }()
		var took time.Duration
		select {
		case <-done:
			took = time.Since(start)
		case <-time.After(time.Minute):
			took = -1
		}
		close(release)
		if took == -1 {
			<-done
			t.Errorf("nested run still waiting a minute after the enclosing deadline (1s); it waits for its own ShutdownTimeout (1h)")
		} else if took != time.Second {
			t.Errorf("nested run took %v, want the enclosing deadline 1s", took)
		}
	})
}

// TimeoutError.ShutdownTimeout is how long after the group's own shutdown
// began its deadline passed: for a nested group whose shutdown began 5s
// before the enclosing one's (ShutdownTimeout 2s), 7s, as documented.
func TestANestedTimeoutErrorCountsFromItsOwnShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Group // no ShutdownTimeout of its own
		letGo := make(chan struct{})
		g.Add(func() error { <-letGo; return nil }, func(error) {}).Name("stuck")
		g.Add(func() error { return nil }, func(error) {}).Name("early") // begins g's shutdown at once
		parent := &runLife{}
		done := make(chan error, 1)
		go func() { done <- g.run(nesting{parent: parent, prefix: "workers/"}) }()
		time.Sleep(5 * time.Second) // fake time: the enclosing shutdown begins 5s later
		// As the enclosing root Run with ShutdownTimeout 2s does.
		parent.setDeadline(time.Now().Add(2 * time.Second))
		g.stop(&ActorError{Actor: "trigger", Err: ErrReturned, run: parent})
		err := <-done
		close(letGo)
		var te *TimeoutError
		if !errors.As(err, &te) {
			t.Fatalf("run() = %v, want a TimeoutError", err)
		}
		if want, have := 7*time.Second, te.ShutdownTimeout; want != have {
			t.Errorf("TimeoutError.ShutdownTimeout = %v (%q), want %v", have, err, want)
		}
	})
}
