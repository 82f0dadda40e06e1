package troupe_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// A nested group's shutdown makes the enclosing group Stopping at once,
// so that the outermost group's health handler stops saying ready while
// the nested group drains. Two levels down, only the middle group hears
// of it directly: it must pass it on to the outermost, whose probes
// matter, rather than leave it Ready for the innermost group's drain.
func TestGrandchildShutdownMakesTheOutermostStopping(t *testing.T) {
	var top, mid, inner troupe.Group
	inner.ShutdownTimeout = 10 * time.Second
	fail := make(chan struct{})
	inner.Go(func(ctx context.Context) error {
		<-fail
		return errors.New("boom")
	}).Name("failer")
	letGo := make(chan struct{})
	inner.Add(func() error { <-letGo; return nil }, func(error) {}).Name("slow") // drains until letGo
	mid.AddGroup(&inner).Name("inner")
	mid.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("m")
	top.AddGroup(&mid).Name("mid")
	top.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("t")
	ran := runReady(t, &top)

	close(fail)
	eventually(t, "mid is stopping", func() bool { return mid.State() == troupe.Stopping })
	// The outermost group hears of it from the same goroutine, a moment
	// later; it must get there while the innermost group still drains.
	eventually(t, "the outermost group is stopping while the innermost drains", func() bool { return top.State() == troupe.Stopping })
	close(letGo)
	if err := <-ran; err == nil {
		t.Error("Run() = nil")
	}
}
