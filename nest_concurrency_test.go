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

// A setting of a nested group's actor, made before that group runs but
// while the enclosing Run checks it, races nothing: the check reads the
// nested group under its lock. The gate holds the nested group back
// until the writer has made writes that the check cannot be ordered
// after (a buffered channel carries no edge back to the writer).
func TestSettingANestedActorWhileTheEnclosingRunChecksItIsSafe(t *testing.T) {
	var outer, inner troupe.Group
	wait := func(ctx context.Context) error { <-ctx.Done(); return nil }
	for range 2000 { // a check long enough to overlap the writer
		inner.Go(wait)
	}
	x := inner.Go(wait).Name("x")

	wrote := make(chan struct{}, 1<<20)
	stop, writerDone := make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-writerDone }() // also should Run fail before the nested group starts
	go func() {
		defer close(writerDone)
		defer func() { _ = recover() }() // a setting panics once the nested group has started
		for {
			select {
			case <-stop:
				return
			default:
			}
			x.Timeout(time.Hour)
			select {
			case wrote <- struct{}{}:
			default:
			}
		}
	}()
	outer.Go(wait).Name("gate").ReadyWhen(func(context.Context) error {
		for range len(wrote) + 100 { // writes made after the check
			<-wrote
		}
		return nil
	})
	outer.AddGroup(&inner).Name("inner").StartAfter("gate")
	go func() {
		_ = outer.WaitReady(context.Background())
		outer.Stop()
	}()
	errc := make(chan error, 1)
	go func() { errc <- outer.Run() }()
	select {
	case err := <-errc:
		if troupe.ExitCode(err) != 0 {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run has not returned in a minute")
	}
}

// AddGroup's refusal of a group nested twice is written under the lock
// of the group it adds to, which that group's check, in an enclosing
// Run, reads it under.
func TestAnAddGroupRefusalWhileTheEnclosingRunChecksIsSafe(t *testing.T) {
	for range 100 {
		anAddGroupRefusalWhileTheEnclosingRunChecks(t)
	}
}

func anAddGroupRefusalWhileTheEnclosingRunChecks(t *testing.T) {
	var outer, inner, other, y troupe.Group
	other.AddGroup(&y) // so that inner.AddGroup(&y) is refused
	wait := func(ctx context.Context) error { <-ctx.Done(); return nil }
	for range 50 {
		inner.Go(wait)
	}
	outer.AddGroup(&inner)
	outer.Add(func() error { return nil }, func(error) {})
	start, stop, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-done }() // also should inner never start
	go func() {
		defer close(done)
		defer func() { _ = recover() }() // inner has started
		<-start
		for {
			select {
			case <-stop:
				return
			default:
			}
			inner.AddGroup(&y)
		}
	}()
	close(start)
	// Refused if the refusal came before the check, or before
	// inner's own; run and stopped by the plain actor if inner
	// started first. -race judges the rest.
	if err := outer.Run(); err != nil && !errors.Is(err, troupe.ErrInvalid) {
		t.Fatalf("Run = %v, want nil or ErrInvalid", err)
	}
}
