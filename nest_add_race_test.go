package troupe_test

import (
	"context"
	"testing"

	"github.com/troupe-go/troupe"
)

// Actors may be added to a nested group until it runs, also while the
// enclosing group checks it as its own Run begins: the check reads the
// nested group's actors under its lock, so -race finds nothing.
func TestAddingToANestedGroupWhileTheEnclosingOneStartsIsSafe(t *testing.T) {
	var outer, inner troupe.Group
	outer.AddGroup(&inner).Name("inner")
	wait := func(ctx context.Context) error { <-ctx.Done(); return nil }
	inner.Go(wait)
	outer.Go(func(ctx context.Context) error {
		return inner.WaitReady(ctx) // then a clean return stops the group
	})

	adding := make(chan struct{})
	go func() {
		defer close(adding)
		defer func() { _ = recover() }() // Add panics once the nested group has started
		for range 20_000 {
			inner.Go(wait)
		}
	}()
	if err := outer.Run(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	<-adding
}
