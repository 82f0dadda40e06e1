package troupe

import "testing"

// The interrupt's end can be reported before its actor's return, when it
// ends between execute's count and execute's send. The actor must still
// settle; a later return once reset the interrupt's end, and Run hung.
func TestInterruptEndReportedBeforeTheReturnStillSettles(t *testing.T) {
	var g Group
	a := g.Add(func() error { return nil }, func(error) {})
	r := newRunner(&g, g.actors, nil)
	a.interrupted = true
	r.record(event{a, interruptEnded, nil})
	r.record(event{a, returned, nil})
	if !a.done || r.pending[0] != 0 {
		t.Fatalf("actor not settled: done=%v pending=%d", a.done, r.pending[0])
	}
}
