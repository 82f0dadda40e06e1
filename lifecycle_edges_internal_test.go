package troupe

import (
	"context"
	"sync/atomic"
	"testing"
)

// A nested group tells the enclosing one that it is ready once: the
// enclosing Run gives each announcing actor one slot in its event buffer
// ("one more per ... way of becoming ready other than starting"), which
// must hold every event sent after it stops reading. A group whose actors
// are all ready at start reaches readiness from two places: as its last
// actor starts, and at the end of the start.
func TestANestedGroupReadyAtStartAnnouncesOnce(t *testing.T) {
	var g Group
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil })
	var announced atomic.Int32
	ran := make(chan error, 1)
	go func() { ran <- g.run(nesting{ready: func() { announced.Add(1) }}) }()
	if err := g.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.Stop()
	<-ran
	if n := announced.Load(); n != 1 {
		t.Errorf("the group announced it was ready %d times, want 1", n)
	}
}
