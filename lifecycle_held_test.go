package troupe_test

// Attacks that held: kept as regression tests.

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

func TestACheckThatIgnoresItsContextIsAStraggler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{ShutdownTimeout: time.Second}
		letGo := make(chan struct{})
		g.Go(blockUntilDone).Name("cache").ReadyWhen(func(context.Context) error { <-letGo; return nil })
		time.AfterFunc(time.Millisecond, g.Stop)
		start := time.Now()
		err := g.Run()
		if time.Since(start) != time.Second+time.Millisecond {
			t.Errorf("Run took %v", time.Since(start))
		}
		var te *troupe.TimeoutError
		if !errors.As(err, &te) || !slices.Equal(te.Stragglers, []string{"cache"}) {
			t.Errorf("Run() = %v, want cache a straggler", err)
		}
		close(letGo)
	})
}

func TestWaitReadyFromManyGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g troupe.Group
		pass := make(chan struct{})
		g.Go(blockUntilDone).ReadyWhen(readyOn(pass))
		var wg sync.WaitGroup
		var bad atomic.Int32
		for range 50 {
			wg.Go(func() {
				if g.WaitReady(context.Background()) != nil {
					bad.Add(1)
				}
			})
		}
		ran := make(chan error, 1)
		go func() { ran <- g.Run() }()
		for range 50 {
			wg.Go(func() {
				if g.WaitReady(context.Background()) != nil {
					bad.Add(1)
				}
			})
		}
		close(pass)
		wg.Wait()
		g.Stop()
		<-ran
		for range 10 {
			if g.WaitReady(context.Background()) != nil {
				bad.Add(1)
			}
		}
		if bad.Load() != 0 {
			t.Errorf("%d WaitReady calls failed", bad.Load())
		}
	})
}

func TestABeforeStopThatPanicsDuringTheDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{StopDelay: 5 * time.Second, ShutdownTimeout: 10 * time.Second}
		srv := &chanServer{serving: make(chan struct{}), stop: make(chan struct{})}
		g.Add(troupe.GRPCServer(srv, listen(t), troupe.BeforeStop(func() { panic("hook") }))).Name("grpc")
		ran := make(chan error, 1)
		go func() { ran <- g.Run() }()
		<-srv.serving
		g.Stop()
		err := <-ran
		var pe *troupe.PanicError
		if !errors.As(err, &pe) || !slices.Contains(actorNames(err), "grpc") {
			t.Errorf("Run() = %v, want grpc's hook's panic", err)
		}
	})
}

func TestStartTimeoutNamesOnlyStartedActors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{StartTimeout: time.Second}
		g.Go(blockUntilDone).Name("db").ReadyWhen(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		g.Go(blockUntilDone).Name("api").StartAfter("db")
		err := g.Run()
		var ns *troupe.NotStartedError
		if !errors.Is(err, troupe.ErrNotReady) || !slices.Equal(actorNames(err), []string{"db"}) ||
			!errors.As(err, &ns) || !slices.Equal(ns.Actors, []string{"api"}) || troupe.ExitCode(err) != 1 {
			t.Errorf("Run() = %v", err)
		}
	})
}
