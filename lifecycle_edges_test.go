package troupe_test

// Edge cases of the production lifecycle, found by review. Each test names
// the contract it checks.

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// A nested group that never starts, because what it starts after failed,
// must still call each of its own actors' interrupts once: the contract
// calls every interrupt exactly once, and releaseUnstarted does it for a
// refused or pre-stopped Run, and the enclosing Run's shutdown for one
// that never started.
func TestANeverStartedNestedGroupReleasesItsActors(t *testing.T) {
	synctest.Test(t, neverStartedNestedGroup)
}

func neverStartedNestedGroup(t *testing.T) {
	var outer, inner troupe.Group
	p := newProbe(nil)
	inner.Add(p.execute, p.interrupt).Name("consumer")
	outer.Go(func(ctx context.Context) error { return errBoom }).Name("db").
		ReadyWhen(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	outer.AddGroup(&inner).Name("workers").StartAfter("db")
	err := outer.Run()
	if !errors.Is(err, errBoom) {
		t.Fatalf("Run() = %v, want db's failure", err)
	}
	var ns *troupe.NotStartedError
	if !errors.As(err, &ns) {
		t.Fatalf("Run() = %v, want workers never started", err)
	}
	if n := p.calls.Load(); n != 1 {
		t.Errorf("the never-started nested group's actor was interrupted %d times, want 1", n)
	}
	if s := inner.State(); s != troupe.Stopped {
		t.Errorf("the never-started nested group is %v after the outer Run returned, want stopped", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := inner.WaitReady(ctx); !errors.Is(err, troupe.ErrNotReady) {
		t.Errorf("inner.WaitReady() = %v, want ErrNotReady (the group stopped)", err)
	}
}

// The same, with a real resource: an HTTPServer with a Listener, inside a
// nested group that never starts. Its listener must be closed (the
// adapter closes it on every path).
func TestANeverStartedNestedGroupClosesItsServersListener(t *testing.T) {
	var outer, inner troupe.Group
	ln := listen(t)
	inner.Add(troupe.HTTPServer(&http.Server{}, troupe.Listener(ln))).Name("http")
	outer.Go(func(ctx context.Context) error { return errBoom }).Name("db").
		ReadyWhen(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	outer.AddGroup(&inner).Name("workers").StartAfter("db")
	if err := outer.Run(); !errors.Is(err, errBoom) {
		t.Fatalf("Run() = %v", err)
	}
	// Closing it again fails if the adapter closed it.
	if err := ln.Close(); err == nil {
		t.Error("the never-started server's listener was left open")
	}
}

// An HTTPServer or GRPCServer whose readiness a ReadyWhen check decides
// still hears of the stop delay: its BeforeStop runs as the delay begins.
func TestAServerWithReadyWhenStillRunsBeforeStopAsTheDelayBegins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{StopDelay: 10 * time.Second}
		var hookAt atomic.Int64
		srv := &chanServer{serving: make(chan struct{}), stop: make(chan struct{})}
		g.Add(troupe.GRPCServer(srv, listen(t), troupe.BeforeStop(func() { hookAt.Store(time.Now().UnixNano()) }))).
			Name("grpc").
			ReadyWhen(func(ctx context.Context) error { return nil }) // e.g. "ready once its health says SERVING"
		ran := runReady(t, &g)
		<-srv.serving
		stoppedAt := time.Now()
		g.Stop()
		synctest.Wait()
		if hookAt.Load() == 0 {
			t.Error("BeforeStop did not run as the delay began (it ran only at the interrupt, 10s later)")
		} else if d := time.Unix(0, hookAt.Load()).Sub(stoppedAt); d != 0 {
			t.Errorf("BeforeStop ran %v after Stop, want at once", d)
		}
		if err := <-ran; troupe.ExitCode(err) != 0 {
			t.Fatalf("Run() = %v", err)
		}
		if hookAt.Load() != 0 {
			t.Logf("BeforeStop ran %v after Stop", time.Unix(0, hookAt.Load()).Sub(stoppedAt))
		}
	})
}

// A OneShot with a ReadyWhen check is ready when its check returns nil,
// not when it returns: a launcher whose check waits for what it launched.
func TestAOneShotWithReadyWhenIsReadyOnlyOnceItsCheckPasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g troupe.Group
		checkPassed := make(chan struct{})
		var passed atomic.Bool
		g.Go(func(ctx context.Context) error { return nil }).Name("migrate").OneShot().
			ReadyWhen(func(ctx context.Context) error {
				select {
				case <-checkPassed:
					passed.Store(true)
					return nil
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			})
		startedEarly := make(chan bool, 1)
		g.Go(func(ctx context.Context) error {
			startedEarly <- !passed.Load()
			<-ctx.Done()
			return nil
		}).Name("api").StartAfter("migrate")
		ran := make(chan error, 1)
		go func() { ran <- g.Run() }()
		synctest.Wait()
		select {
		case early := <-startedEarly:
			if early {
				t.Error("api started before migrate's readiness check returned nil")
			}
		default:
			close(checkPassed)
			<-startedEarly
		}
		select {
		case <-checkPassed:
		default:
			close(checkPassed)
		}
		g.Stop()
		if err := <-ran; troupe.ExitCode(err) != 0 {
			t.Fatalf("Run() = %v", err)
		}
	})
}

// NotReady "is safe to call from any goroutine", and the health handler
// "may be made and mounted before Run" (controller-runtime's pattern:
// probes answer while the rest is set up). Both read each actor's name
// without the group's lock, while Add(...).Name(...) writes it under it.
func TestNotReadyAndHealthDoNotRaceWithNamingActorsBeforeRun(t *testing.T) {
	for range 200 {
		var g troupe.Group
		h := g.HealthHandler()
		var stop atomic.Bool
		probed, probing := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(probed)
			close(probing)
			for !stop.Load() {
				g.NotReady()
				h.ServeHTTP(newRecorder(), mustRequest("/readyz?verbose"))
			}
		}()
		<-probing
		for range 200 {
			g.Go(blockUntilDone).Name("x")
		}
		stop.Store(true)
		<-probed
	}
}

// The plainest StartAfter: an actor after one that is ready at start.
// startReady starts "db", whose markReady starts "api" (its waitingOn is
// now 0), and then startReady's own loop reaches "api", whose waitingOn
// is 0, and starts it again: two executes of one actor, two goroutines,
// running counted twice.
func TestAnActorStartedAfterOneReadyAtStartExecutesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g troupe.Group
		var executes atomic.Int32
		g.Go(blockUntilDone).Name("db")
		g.Go(func(ctx context.Context) error {
			executes.Add(1)
			<-ctx.Done()
			return nil
		}).Name("api").StartAfter("db")
		ran := runReady(t, &g)
		synctest.Wait()
		if n := executes.Load(); n != 1 {
			t.Errorf("api's execute was called %d times, want 1", n)
		}
		g.Stop()
		select {
		case err := <-ran:
			if troupe.ExitCode(err) != 0 {
				t.Fatalf("Run() = %v", err)
			}
		case <-time.After(time.Hour):
			t.Fatal("Run did not return an hour after Stop")
		}
	})
}

// What the double start does to a real server: the second execute
// listens on the same address, fails, and fails the group.
func TestAnHTTPServerStartedAfterAPlainActorListensOnce(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()
	var g troupe.Group
	g.Go(blockUntilDone).Name("db")
	g.Add(troupe.HTTPServer(&http.Server{Addr: addr})).Name("http").StartAfter("db")
	ran := make(chan error, 1)
	go func() { ran <- g.Run() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waitErr := g.WaitReady(ctx)
	g.Stop()
	err := <-ran
	if waitErr != nil || troupe.ExitCode(err) != 0 {
		t.Fatalf("WaitReady() = %v; Run() = %v", waitErr, err)
	}
}

// A dependency that returns nil before it was ready (not a one-shot)
// begins the shutdown, and what starts after it never starts. Run's error
// names the actor whose return it was, beside the NotStartedError, and
// ExitCode is 1: the group never ran whole, and no one asked it to stop.
func TestActorsLeftUnstartedByACleanReturnNameIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g troupe.Group
		g.Go(func(ctx context.Context) error { return nil }).Name("db").
			ReadyWhen(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		g.Go(blockUntilDone).Name("api").StartAfter("db")
		err := g.Run()
		t.Logf("Run() = %v; ExitCode %d", err, troupe.ExitCode(err))
		var ns *troupe.NotStartedError
		if !errors.As(err, &ns) {
			t.Fatalf("Run() = %v, want api never started", err)
		}
		names := actorNames(err)
		if len(names) == 0 || names[0] != "db" || !errors.Is(err, troupe.ErrReturned) {
			t.Errorf("Run() = %v: names %v, want the error to name db, whose return stopped the group", err, names)
		}
		if troupe.ExitCode(err) != 1 {
			t.Errorf("ExitCode = %d, want 1", troupe.ExitCode(err))
		}
	})
}

// An empty group stopped before Run: Stop "before Run makes Run start
// nothing", and WaitReady must give ErrNotReady when stopping began
// before ready, also for a group with no actors.
func TestAnEmptyGroupStoppedBeforeRunIsNeverReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g troupe.Group
		g.Stop()
		waited := make(chan error, 1)
		go func() { waited <- g.WaitReady(context.Background()) }()
		synctest.Wait()
		if err := g.Run(); !errors.Is(err, troupe.ErrStopRequested) {
			t.Fatalf("Run() = %v", err)
		}
		if err := <-waited; !errors.Is(err, troupe.ErrNotReady) {
			t.Errorf("WaitReady() = %v for a group stopped before Run, want ErrNotReady", err)
		}
	})
}

// A GRPCServer is ready at start: the group can be Ready, and stopped,
// before the adapter's execute has begun. BeforeStop must still run as the
// delay begins, once execute does, and not only at the interrupt after the
// whole delay. Repeated, because it needs the execute goroutine to be late.
func TestAStopRightAfterReadyStillRunsBeforeStopEarly(t *testing.T) {
	late := 0
	for range 200 {
		synctest.Test(t, func(t *testing.T) {
			g := troupe.Group{StopDelay: 10 * time.Second}
			var hookAt atomic.Int64
			srv := &chanServer{serving: make(chan struct{}), stop: make(chan struct{})}
			g.Add(troupe.GRPCServer(srv, listen(t), troupe.BeforeStop(func() { hookAt.Store(time.Now().UnixNano()) }))).Name("grpc")
			ran := runReady(t, &g)
			stoppedAt := time.Now()
			g.Stop()
			synctest.Wait()
			if hookAt.Load() == 0 || time.Unix(0, hookAt.Load()).Sub(stoppedAt) != 0 {
				late++
			}
			if err := <-ran; troupe.ExitCode(err) != 0 {
				t.Fatalf("Run() = %v", err)
			}
		})
	}
	if late > 0 {
		t.Errorf("in %d of 200 runs, BeforeStop did not run as the stop delay began", late)
	}
}
