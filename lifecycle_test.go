package troupe_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

var errBoom = errors.New("boom")

// blockUntilDone is a context actor that runs until interrupted.
func blockUntilDone(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// runReady runs g, and returns once it is ready; the channel gives Run's
// result.
func runReady(t *testing.T, g *troupe.Group) <-chan error {
	t.Helper()
	ran := make(chan error, 1)
	go func() { ran <- g.Run() }()
	if err := g.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ran
}

// readyOn is a readiness check that passes when ready is closed.
func readyOn(ready <-chan struct{}) func(context.Context) error {
	return func(ctx context.Context) error {
		select {
		case <-ready:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func TestStartAfterStartsAnActorOnlyOnceWhatItNeedsIsReady(t *testing.T) {
	var g troupe.Group
	synced := make(chan struct{})
	var cacheReady atomic.Bool
	g.Go(blockUntilDone).Name("cache").ReadyWhen(func(ctx context.Context) error {
		if err := readyOn(synced)(ctx); err != nil {
			return err
		}
		cacheReady.Store(true)
		return nil
	})
	sawReady := make(chan bool, 1)
	g.Go(func(ctx context.Context) error {
		sawReady <- cacheReady.Load()
		return blockUntilDone(ctx)
	}).Name("server").StartAfter("cache")

	if g.State() != troupe.Starting || !slices.Equal(g.NotReady(), []string{"cache", "server"}) {
		t.Fatalf("before Run: state %v, not ready %v", g.State(), g.NotReady())
	}
	ran := make(chan error, 1)
	go func() { ran <- g.Run() }()
	close(synced)
	if !<-sawReady {
		t.Fatal("server started before the cache was ready")
	}
	if err := g.WaitReady(context.Background()); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if g.State() != troupe.Ready || g.NotReady() != nil {
		t.Fatalf("after WaitReady: state %v, not ready %v", g.State(), g.NotReady())
	}
	g.Stop()
	err := <-ran
	if !errors.Is(err, troupe.ErrStopRequested) || troupe.ExitCode(err) != 0 {
		t.Fatalf("Run() = %v, want a requested stop with exit code 0", err)
	}
	if g.State() != troupe.Stopped {
		t.Fatalf("after Run: state %v", g.State())
	}
}

func TestActorsThatStartAfterAFailedOneNeverStartAndAreStillInterrupted(t *testing.T) {
	var g troupe.Group
	fail := make(chan struct{})
	g.Go(func(ctx context.Context) error {
		<-fail
		return errBoom
	}).Name("db").ReadyWhen(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	var executed atomic.Int32
	api, worker := newProbe(nil), newProbe(nil)
	g.Add(func() error { executed.Add(1); return api.execute() }, api.interrupt).Name("api").StartAfter("db")
	g.Add(func() error { executed.Add(1); return worker.execute() }, worker.interrupt).Name("worker").StartAfter("api")
	close(fail)
	err := g.Run()
	if !errors.Is(err, errBoom) || !slices.Contains(actorNames(err), "db") {
		t.Fatalf("Run() = %v, want db's failure", err)
	}
	var ns *troupe.NotStartedError
	if !errors.As(err, &ns) || !slices.Equal(ns.Actors, []string{"api", "worker"}) {
		t.Fatalf("Run() = %v, want api and worker never started", err)
	}
	if executed.Load() != 0 {
		t.Fatalf("%d executes of never-started actors ran", executed.Load())
	}
	if api.calls.Load() != 1 || worker.calls.Load() != 1 {
		t.Fatalf("interrupt calls: api %d, worker %d; want 1 each", api.calls.Load(), worker.calls.Load())
	}
	if troupe.ExitCode(err) != 1 {
		t.Fatalf("ExitCode = %d, want 1", troupe.ExitCode(err))
	}
}

func TestAStopWhileStartingIsCleanAndSkipsTheStopDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{StopDelay: time.Hour}
		g.Go(blockUntilDone).Name("db").ReadyWhen(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		api := newProbe(nil)
		g.Add(api.execute, api.interrupt).Name("api").StartAfter("db")
		ran := make(chan error, 1)
		go func() { ran <- g.Run() }()
		synctest.Wait()
		start := time.Now()
		g.Stop()
		err := <-ran
		if elapsed := time.Since(start); elapsed != 0 {
			t.Fatalf("Run took %v after a stop while starting; the delay must be skipped", elapsed)
		}
		if troupe.ExitCode(err) != 0 || !errors.Is(err, troupe.ErrStopRequested) {
			t.Fatalf("Run() = %v, want a clean requested stop", err)
		}
		var ns *troupe.NotStartedError
		if !errors.As(err, &ns) || !slices.Equal(ns.Actors, []string{"api"}) {
			t.Fatalf("Run() = %v, want api never started", err)
		}
		if api.calls.Load() != 1 {
			t.Fatalf("api interrupted %d times", api.calls.Load())
		}
	})
}

func TestAnActorNotReadyWithinStartTimeoutFailsTheGroupByName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{StartTimeout: 5 * time.Second}
		var checkCause atomic.Value
		g.Go(blockUntilDone).Name("fast")
		g.Go(blockUntilDone).Name("slow").ReadyWhen(func(ctx context.Context) error {
			<-ctx.Done()
			checkCause.Store(context.Cause(ctx))
			return ctx.Err()
		})
		g.Go(blockUntilDone).Name("api").StartAfter("slow")
		start := time.Now()
		err := g.Run()
		if elapsed := time.Since(start); elapsed != 5*time.Second {
			t.Fatalf("Run took %v, want the StartTimeout of 5s", elapsed)
		}
		var ae *troupe.ActorError
		if !errors.Is(err, troupe.ErrNotReady) || !errors.As(err, &ae) || ae.Actor != "slow" {
			t.Fatalf("Run() = %v, want slow not ready", err)
		}
		if !strings.Contains(err.Error(), "StartTimeout 5s") {
			t.Fatalf("Run() = %v, want the timeout named", err)
		}
		var ns *troupe.NotStartedError
		if !errors.As(err, &ns) || !slices.Equal(ns.Actors, []string{"api"}) {
			t.Fatalf("Run() = %v, want api never started", err)
		}
		if c, _ := checkCause.Load().(error); !errors.Is(c, troupe.ErrNotReady) {
			t.Fatalf("the check's context was cancelled with %v, want the shutdown's cause", c)
		}
	})
}

func TestAReadinessCheckThatFailsOrPanicsFailsItsActor(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(context.Context) error
		want  func(error) bool
	}{
		{"error", func(context.Context) error { return errBoom }, func(err error) bool { return errors.Is(err, errBoom) }},
		{"panic", func(context.Context) error { panic("no cache") }, func(err error) bool {
			var pe *troupe.PanicError
			return errors.As(err, &pe) && pe.Value == "no cache"
		}},
		{"Goexit", func(context.Context) error { runtime.Goexit(); return nil }, func(err error) bool {
			return strings.Contains(err.Error(), "readiness check called runtime.Goexit")
		}},
		// The panic is recovered, and Go goes on with the Goexit: the
		// panic must not be lost behind it.
		{"panic after Goexit", func(context.Context) error {
			defer func() { panic("no cache") }()
			runtime.Goexit()
			return nil
		}, func(err error) bool {
			var pe *troupe.PanicError
			return errors.As(err, &pe) && pe.Value == "no cache"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g troupe.Group
			g.Go(blockUntilDone).Name("cache").ReadyWhen(tc.check)
			g.Go(blockUntilDone).Name("api").StartAfter("cache")
			err := g.Run()
			var ae *troupe.ActorError
			if !tc.want(err) || !errors.As(err, &ae) || ae.Actor != "cache" || !strings.Contains(err.Error(), "readiness check") {
				t.Fatalf("Run() = %v", err)
			}
		})
	}
}

func TestAOneShotIsReadyOnceItHasReturnedNil(t *testing.T) {
	var g troupe.Group
	migrated := make(chan struct{})
	var done atomic.Bool
	g.Add(func() error { <-migrated; done.Store(true); return nil }, func(error) {}).Name("migrate").OneShot()
	sawDone := make(chan bool, 1)
	g.Go(func(ctx context.Context) error {
		sawDone <- done.Load()
		return blockUntilDone(ctx)
	}).Name("api").StartAfter("migrate")
	ran := make(chan error, 1)
	go func() { ran <- g.Run() }()
	close(migrated)
	if !<-sawDone {
		t.Fatal("api started before the migration had returned")
	}
	if err := g.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.Stop()
	if err := <-ran; troupe.ExitCode(err) != 0 {
		t.Fatalf("Run() = %v", err)
	}
}

func TestWaitReadyReportsAGroupThatStoppedBeforeItWasReady(t *testing.T) {
	var g troupe.Group
	g.Go(blockUntilDone).Name("never").ReadyWhen(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errBoom)
	if err := g.WaitReady(ctx); !errors.Is(err, errBoom) {
		t.Fatalf("WaitReady with a cancelled context = %v, want its cause", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- g.WaitReady(context.Background()) }()
	ran := make(chan error, 1)
	go func() { ran <- g.Run() }()
	g.Stop()
	if err := <-waited; !errors.Is(err, troupe.ErrNotReady) || !errors.Is(err, troupe.ErrStopRequested) {
		t.Fatalf("WaitReady = %v, want ErrNotReady with the cause", err)
	}
	<-ran
}

func TestStopBeforeRunStartsNothingAndCallsEveryInterrupt(t *testing.T) {
	var g troupe.Group
	var executed atomic.Bool
	p := newProbe(nil)
	g.Add(func() error { executed.Store(true); return nil }, p.interrupt).Name("a")
	g.Stop()
	err := g.Run()
	if !errors.Is(err, troupe.ErrStopRequested) || troupe.ExitCode(err) != 0 {
		t.Fatalf("Run() = %v, want a requested stop", err)
	}
	if executed.Load() || p.calls.Load() != 1 {
		t.Fatalf("executed %v, interrupted %d times", executed.Load(), p.calls.Load())
	}
	if !errors.Is(p.gotCause(), troupe.ErrStopRequested) {
		t.Fatalf("interrupt's cause %v", p.gotCause())
	}
	if g.State() != troupe.Stopped {
		t.Fatalf("state %v", g.State())
	}
}

func TestStopFromManyGoroutinesAndAfterRunIsSafe(t *testing.T) {
	var g troupe.Group
	p := newProbe(nil)
	g.Add(p.execute, p.interrupt).Name("a")
	ran := runReady(t, &g)
	done := make(chan struct{})
	for range 8 {
		go func() {
			g.Stop()
			done <- struct{}{}
		}()
	}
	for range 8 {
		<-done
	}
	if err := <-ran; !errors.Is(err, troupe.ErrStopRequested) {
		t.Fatalf("Run() = %v", err)
	}
	g.Stop() // after Run: nothing to do, and it must not block
	if p.calls.Load() != 1 {
		t.Fatalf("interrupted %d times", p.calls.Load())
	}
}

func TestLifecycleMisuseIsRefusedBeforeAnythingStarts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(g *troupe.Group)
		want  string
	}{
		{"start after itself", func(g *troupe.Group) { g.Go(blockUntilDone).Name("a").StartAfter("a") }, `actor "a": StartAfter names the actor itself`},
		{"start after unknown", func(g *troupe.Group) { g.Go(blockUntilDone).Name("a").StartAfter("ghost") }, `actor "a": StartAfter names unknown actor "ghost"`},
		{"start cycle", func(g *troupe.Group) {
			g.Go(blockUntilDone).Name("a").StartAfter("b")
			g.Go(blockUntilDone).Name("b").StartAfter("a")
		}, "start order forms a cycle: a starts after b starts after a"},
		{"start and stop contradict", func(g *troupe.Group) {
			g.Go(blockUntilDone).Name("db")
			g.Go(blockUntilDone).Name("http").StartAfter("db").StopAfter("db")
		}, "start and stop order form a cycle"},
		{"negative StartTimeout", func(g *troupe.Group) { g.StartTimeout = -time.Second; g.Go(blockUntilDone) }, "negative StartTimeout -1s"},
		{"negative StopDelay", func(g *troupe.Group) { g.StopDelay = -time.Second; g.Go(blockUntilDone) }, "negative StopDelay -1s"},
		{"StopDelay past ShutdownTimeout", func(g *troupe.Group) {
			g.StopDelay, g.ShutdownTimeout = 5*time.Second, 5*time.Second
			g.Go(blockUntilDone)
		}, "StopDelay 5s leaves no time to stop within ShutdownTimeout 5s"},
		{"nil check", func(g *troupe.Group) { g.Go(blockUntilDone).Name("a").ReadyWhen(nil) }, `actor "a": nil ReadyWhen check`},
		{"nested StopDelay", func(g *troupe.Group) {
			inner := &troupe.Group{StopDelay: time.Second}
			inner.Go(blockUntilDone)
			g.AddGroup(inner).Name("inner")
		}, `actor "inner": StopDelay applies to the outermost group only`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g troupe.Group
			tc.build(&g)
			err := g.Run()
			if !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run() = %v, want ErrInvalid saying %q", err, tc.want)
			}
			if g.State() != troupe.Stopped {
				t.Fatalf("state %v after a refused Run", g.State())
			}
		})
	}
}

func TestANestedGroupIsReadyOnceEveryActorOfItIs(t *testing.T) {
	var outer, inner troupe.Group
	synced := make(chan struct{})
	var innerReady atomic.Bool
	inner.Go(blockUntilDone).Name("consumer").ReadyWhen(func(ctx context.Context) error {
		err := readyOn(synced)(ctx)
		innerReady.Store(err == nil)
		return err
	})
	outer.AddGroup(&inner).Name("workers")
	sawReady := make(chan bool, 1)
	outer.Go(func(ctx context.Context) error {
		sawReady <- innerReady.Load()
		return blockUntilDone(ctx)
	}).Name("api").StartAfter("workers")
	ran := make(chan error, 1)
	go func() { ran <- outer.Run() }()
	close(synced)
	if !<-sawReady {
		t.Fatal("api started before the nested group was ready")
	}
	if err := outer.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	outer.Stop()
	if err := <-ran; troupe.ExitCode(err) != 0 {
		t.Fatalf("Run() = %v", err)
	}
}
