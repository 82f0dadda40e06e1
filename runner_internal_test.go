package troupe

import (
	"errors"
	"sync"
	"testing"
)

// The interrupt's end can be reported before its actor's return, when it
// ends between execute's count and execute's send. The actor must still
// settle; a later return once reset the interrupt's end, and Run hung.
func TestInterruptEndReportedBeforeTheReturnStillSettles(t *testing.T) {
	var g Group
	a := g.Add(func() error { return nil }, func(error) {})
	r := newRunner(&g, &g.actors, schedule{}, nesting{})
	r.interruptedStages = 1
	r.record(event{a, interruptEnded, nil})
	r.record(event{a, returned, nil})
	if !a.has(flagDone) || r.pending[0].Load() != 0 {
		t.Fatalf("actor not settled: done=%v pending=%d", a.has(flagDone), r.pending[0].Load())
	}
}

// A nested group that its enclosing group stops before it has begun starts
// nothing, and still calls every interrupt once.
func TestAGroupStoppedBeforeItBeginsStartsNothing(t *testing.T) {
	var g Group
	var executes, interrupts int
	var mu sync.Mutex
	for range 3 {
		g.Add(func() error { mu.Lock(); executes++; mu.Unlock(); return nil },
			func(error) { mu.Lock(); interrupts++; mu.Unlock() })
	}
	outer := errors.New("the enclosing group stops")
	g.stop(outer)
	if err := g.run(nesting{}); err != nil {
		t.Fatalf("run() = %v, want nil", err)
	}
	if executes != 0 || interrupts != 3 {
		t.Errorf("%d executes and %d interrupts, want 0 and 3", executes, interrupts)
	}
}
