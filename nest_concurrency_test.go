package troupe_test

import (
	"context"
	"errors"
	"testing"
	"time"

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

// Two groups whose nesting forms a cycle (b in c, c in b), each reached
// from a Run of its own started at once, are both refused: a check that
// held one nested group's lock while it took the next could wait for the
// other Run's forever.
func TestCrossNestedGroupsCheckedAtOnceAreBothRefused(t *testing.T) {
	for round := range 20 {
		var a, b, c, d troupe.Group
		pair := func() (func() error, func(error)) { return func() error { return nil }, func(error) {} }
		for range 2000 { // a long check, while the other Run's goes on
			b.Add(pair())
			c.Add(pair())
		}
		a.AddGroup(&b)
		b.AddGroup(&c)
		d.AddGroup(&c) // c is an actor of b already
		c.AddGroup(&b) // b is an actor of a already
		errs, start := make(chan error, 2), make(chan struct{})
		go func() { <-start; errs <- a.Run() }()
		go func() { <-start; errs <- d.Run() }()
		close(start)
		safety := time.After(time.Minute)
		for range 2 {
			select {
			case err := <-errs:
				if !errors.Is(err, troupe.ErrInvalid) {
					t.Fatalf("round %d: Run = %v, want ErrInvalid", round, err)
				}
			case <-safety:
				t.Fatalf("round %d: Run has not returned in a minute: each check holds the group the other waits for", round)
			}
		}
	}
}
