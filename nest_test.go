package troupe_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// waiter is a Go actor that waits for its context and records the cause.
func waiter(cause *atomic.Value) func(context.Context) error {
	return func(ctx context.Context) error {
		<-ctx.Done()
		cause.Store(context.Cause(ctx))
		return nil
	}
}

func causeIn(v *atomic.Value) error {
	err, _ := v.Load().(error)
	return err
}

// Three levels: a leaf of the innermost group fails; every level stops,
// and the error names the path to it as nested ActorErrors.
func TestANestedLeafsFailureStopsEveryLevel(t *testing.T) {
	var root, mid, leaves troupe.Group
	var serverCause, peerCause, workerCause atomic.Value
	boom := errors.New("boom")
	leaves.Go(waiter(&workerCause)).Name("worker-1")
	leaves.Add(returnsNow(boom)).Name("worker-2")
	mid.AddGroup(&leaves).Name("leaves")
	mid.Go(waiter(&peerCause)).Name("peer")
	root.AddGroup(&mid).Name("mid")
	root.Go(waiter(&serverCause)).Name("server")

	err := root.Run()
	if !errors.Is(err, boom) {
		t.Fatalf("Run() = %v, want boom", err)
	}
	if want := `troupe: actor "mid": actor "leaves": actor "worker-2": boom`; err.Error() != want {
		t.Errorf("message: want %q, have %q", want, err.Error())
	}
	var path []string
	for e := error(nil); ; {
		var ae *troupe.ActorError
		if e == nil {
			e = err
		}
		if !errors.As(e, &ae) {
			break
		}
		path = append(path, ae.Actor)
		e = ae.Err
	}
	if want := []string{"mid", "leaves", "worker-2"}; !slices.Equal(want, path) {
		t.Errorf("ActorErrors from the root: want %v, have %v", want, path)
	}
	for name, v := range map[string]*atomic.Value{"server": &serverCause, "peer": &peerCause, "worker-1": &workerCause} {
		if !errors.Is(causeIn(v), boom) {
			t.Errorf("%s stopped with cause %v, want it to reach boom", name, causeIn(v))
		}
	}
}

// The root is interrupted: every level stops, and the innermost actors see
// the root's cause.
func TestANestedGroupStopsWhenTheRootIsInterrupted(t *testing.T) {
	var root, mid, leaves troupe.Group
	var workerCause, peerCause atomic.Value
	var started sync.WaitGroup
	started.Add(2)
	leaves.Go(func(ctx context.Context) error { started.Done(); return waiter(&workerCause)(ctx) }).Name("worker")
	mid.AddGroup(&leaves).Name("leaves")
	mid.Go(func(ctx context.Context) error { started.Done(); return waiter(&peerCause)(ctx) }).Name("peer")
	root.AddGroup(&mid).Name("mid")
	fire, ran := runUntilFired(&root, nil)
	started.Wait() // every level runs: the stop reaches them running, not before they begin
	close(fire)
	if err := <-ran; err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
	for name, v := range map[string]*atomic.Value{"peer": &peerCause, "worker": &workerCause} {
		var ae *troupe.ActorError
		if cause := causeIn(v); !errors.As(cause, &ae) || ae.Actor != "trigger" || !errors.Is(cause, troupe.ErrReturned) {
			t.Errorf("%s stopped with cause %v, want the root's: trigger returned", name, cause)
		}
	}
}

// An inner group's own deadline passes: it names its straggler, and its
// error is the outer actor's.
func TestANestedGroupsOwnDeadlineNamesItsStragglers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var outer troupe.Group
		inner := troupe.Group{ShutdownTimeout: time.Second}
		stuck := newStubborn()
		inner.Add(stuck.execute, stuck.interrupt).Name("stuck")
		outer.AddGroup(&inner).Name("workers")
		outer.Add(afterInnerStarted(&inner)).Name("trigger")

		start := time.Now()
		err := outer.Run()
		if want, have := time.Second, time.Since(start); want != have {
			t.Errorf("Run took %v, want the inner deadline %v", have, want)
		}
		var te *troupe.TimeoutError
		var ae *troupe.ActorError
		if !errors.As(err, &ae) || ae.Actor != "workers" || !errors.As(err, &te) || !slices.Equal(te.Stragglers, []string{"stuck"}) {
			t.Fatalf("Run() = %v, want workers' TimeoutError naming stuck", err)
		}
		close(stuck.letGo)
	})
}

// The enclosing group's deadline bounds the inner one's shutdown too: the
// inner group, with no deadline of its own, stops waiting when the outer
// one does.
func TestANestedGroupStopsWaitingAtTheEnclosingDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		outer := troupe.Group{ShutdownTimeout: 2 * time.Second}
		var inner troupe.Group
		stuck := newStubborn()
		inner.Add(stuck.execute, stuck.interrupt).Name("stuck")
		outer.AddGroup(&inner).Name("workers")
		outer.Add(afterInnerStarted(&inner)).Name("trigger")

		outerDone := make(chan error, 1)
		start := time.Now()
		go func() { outerDone <- outer.Run() }()
		err := <-outerDone
		if want, have := 2*time.Second, time.Since(start); want != have {
			t.Errorf("Run took %v, want the outer deadline %v", have, want)
		}
		if !errors.Is(err, troupe.ErrShutdownTimeout) || !strings.Contains(err.Error(), `"stuck"`) && !strings.Contains(err.Error(), `"workers"`) {
			t.Fatalf("Run() = %v, want a TimeoutError naming stuck or workers", err)
		}
		close(stuck.letGo)
	})
}

func TestANestedGroupLogsWithComposedNames(t *testing.T) {
	h := &capture{}
	outer := troupe.Group{Logger: slog.New(h)}
	var inner troupe.Group
	inner.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("consumer")
	outer.AddGroup(&inner).Name("workers")
	outer.Add(afterInnerStarted(&inner)).Name("trigger")
	if err := outer.Run(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"actor started actor=workers", "actor started actor=workers/consumer", "actor returned actor=workers/consumer"} {
		if !slices.Contains(h.events(), want) {
			t.Errorf("no %q in %q", want, h.events())
		}
	}
}

// A nested group's configuration is checked with the outer one's, before
// anything at any level starts.
func TestANestedGroupsConfigurationIsCheckedBeforeAnythingStarts(t *testing.T) {
	var outer, inner troupe.Group
	var started atomic.Bool
	execute := func() error { started.Store(true); return nil }
	inner.Add(execute, func(error) {}).Name("fine")
	inner.Add(nil, func(error) {}).Name("broken")
	inner.Add(execute, func(error) {}).Name("db").StopAfter("nope")
	outer.AddGroup(&inner).Name("workers")
	outer.Add(execute, func(error) {}).Name("server")
	err := outer.Run()
	for _, want := range []string{`actor "workers/broken": nil execute function`, `actor "workers/db": StopAfter names unknown actor "nope"`} {
		if !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("Run() = %v, want ErrInvalid mentioning %s", err, want)
		}
	}
	if started.Load() {
		t.Error("an actor was started")
	}
}

func TestAddGroupMisuseIsRefused(t *testing.T) {
	t.Run("nil", func(t *testing.T) {
		var g troupe.Group
		g.AddGroup(nil).Name("workers")
		if err := g.Run(); !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), `actor "workers": nil group`) {
			t.Errorf("Run() = %v", err)
		}
	})
	t.Run("itself", func(t *testing.T) {
		var g troupe.Group
		g.AddGroup(&g).Name("me")
		if err := g.Run(); !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), `actor "me": the group is nested in itself`) {
			t.Errorf("Run() = %v", err)
		}
	})
	t.Run("twice", func(t *testing.T) {
		var g, inner troupe.Group
		inner.Go(func(ctx context.Context) error { <-ctx.Done(); return nil })
		g.AddGroup(&inner).Name("a")
		g.AddGroup(&inner).Name("b")
		if err := g.Run(); !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), `actor "b": the group is already an actor of another group`) {
			t.Errorf("Run() = %v", err)
		}
	})
	t.Run("run directly", func(t *testing.T) {
		var g, inner troupe.Group
		g.AddGroup(&inner).Name("workers")
		if err := inner.Run(); !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), "run the outermost group") {
			t.Errorf("inner.Run() = %v", err)
		}
	})
}

// afterInnerStarted adds to inner an actor that waits to be stopped, and
// gives an actor that returns once inner runs: a group stopped before it
// began starts nothing, and these tests are about running ones.
func afterInnerStarted(inner *troupe.Group) (func() error, func(error)) {
	running := make(chan struct{})
	inner.Go(func(ctx context.Context) error { close(running); <-ctx.Done(); return nil })
	return func() error { <-running; return nil }, func(error) {}
}
