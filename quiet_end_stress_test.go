package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// A stress test in real time: random multi-stage groups whose stages are
// emptied partly by clean returns after the interrupt (no event) and partly
// by events the runner applies (errors, interrupts that end after execute,
// Timeouts, checks, one-shots). No deadline: Run must wait for everything,
// and must keep the stop order.

type stressActor struct {
	name   string
	kind   int
	stage  int
	after  []int
	stop   chan struct{}
	once   sync.Once
	exeRet chan struct{}

	execEnd, intStart, intEnd atomic.Int64 // sequence numbers, 0: not yet
	calls                     atomic.Int32
	violations                *[]string
	mu                        *sync.Mutex
	actors                    []*stressActor
	seq                       *atomic.Int64
	err                       error
}

const (
	kQuiet    = iota // interrupt closes stop and returns; execute returns nil
	kIntLate         // interrupt waits for execute to have returned
	kExecLate        // execute yields a while after the stop
	kFails           // execute returns an error once interrupted
	kTimeout         // prompt, with a generous own Timeout
	kCheck           // a ReadyWhen check that passes at once
	kOneShot         // returns nil at once
	kCtx             // a context actor
	kinds
)

func (a *stressActor) execute() error {
	defer close(a.exeRet)
	if a.kind == kOneShot {
		a.execEnd.Store(a.seq.Add(1))
		return nil
	}
	<-a.stop
	if a.kind == kExecLate {
		for range 50 {
			runtime.Gosched()
		}
	}
	a.execEnd.Store(a.seq.Add(1))
	if a.kind == kFails {
		return a.err
	}
	return nil
}

func (a *stressActor) interrupt(error) {
	a.calls.Add(1)
	a.intStart.Store(a.seq.Add(1))
	// Stop order: every actor of an earlier stage has finished.
	for _, b := range a.actors {
		if b.stage < a.stage && (b.execEnd.Load() == 0 || b.intEnd.Load() == 0) {
			a.mu.Lock()
			*a.violations = append(*a.violations, fmt.Sprintf("%s (stage %d) interrupted before %s (stage %d) finished: exec %d int %d",
				a.name, a.stage, b.name, b.stage, b.execEnd.Load(), b.intEnd.Load()))
			a.mu.Unlock()
		}
	}
	a.once.Do(func() { close(a.stop) })
	if a.kind == kIntLate {
		<-a.exeRet
	}
	a.intEnd.Store(a.seq.Add(1))
}

func runStress(t *testing.T, seed uint64, logging bool) {
	rng := rand.New(rand.NewPCG(seed, 77))
	n := 1 + rng.IntN(24)
	var (
		mu         sync.Mutex
		violations []string
		seq        atomic.Int64
	)
	actors := make([]*stressActor, n)
	var g troupe.Group
	if logging {
		g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for i := range actors {
		a := &stressActor{name: fmt.Sprintf("s%d", i), kind: rng.IntN(kinds), stop: make(chan struct{}), exeRet: make(chan struct{}),
			violations: &violations, mu: &mu, seq: &seq}
		a.err = fmt.Errorf("%s failed", a.name)
		for j := range i {
			if rng.IntN(3) == 0 {
				a.after = append(a.after, j)
				a.stage = max(a.stage, actors[j].stage+1)
			}
		}
		actors[i] = a
	}
	for _, a := range actors {
		a.actors = actors
		var h *troupe.Actor
		if a.kind == kCtx {
			a := a
			h = g.Go(func(ctx context.Context) error {
				defer close(a.exeRet)
				<-ctx.Done()
				a.execEnd.Store(a.seq.Add(1))
				return ctx.Err()
			})
			// Its interrupt is the context's cancel: record around it.
			a.intEnd.Store(-1)
		} else {
			h = g.Add(a.execute, a.interrupt)
		}
		h.Name(a.name)
		for _, j := range a.after {
			h.StopAfter(actors[j].name)
		}
		switch a.kind {
		case kTimeout:
			h.Timeout(time.Hour)
		case kCheck:
			h.ReadyWhen(func(context.Context) error { return nil })
		case kOneShot:
			h.OneShot()
		}
	}
	// The trigger: a plain actor that returns once every other actor runs.
	trigger := make(chan struct{})
	g.Add(func() error { <-trigger; return nil }, func(error) {}).Name("trigger")
	go func() {
		// Readiness is the simplest "every execute has begun".
		_ = g.WaitReady(context.Background())
		close(trigger)
	}()

	done := make(chan error, 1)
	go func() { done <- g.Run() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("seed %d logging %v: Run hangs", seed, logging)
	}
	at := seq.Add(1)
	for _, a := range actors {
		if a.kind == kCtx {
			if e := a.execEnd.Load(); e == 0 || e > at {
				t.Errorf("seed %d logging %v: %s's execute not returned when Run returned", seed, logging, a.name)
			}
			continue
		}
		if c := a.calls.Load(); c != 1 {
			t.Errorf("seed %d: %s interrupt calls %d", seed, a.name, c)
		}
		if e := a.execEnd.Load(); e == 0 || e > at {
			t.Errorf("seed %d logging %v: %s's execute not returned when Run returned (%d, Run at %d)", seed, logging, a.name, e, at)
		}
		if e := a.intEnd.Load(); e == 0 || e > at {
			t.Errorf("seed %d logging %v: %s's interrupt not returned when Run returned (%d, Run at %d)", seed, logging, a.name, e, at)
		}
		if a.kind == kFails && !errors.Is(err, a.err) {
			t.Errorf("seed %d logging %v: %s's error missing: %v", seed, logging, a.name, err)
		}
	}
	if errors.Is(err, troupe.ErrShutdownTimeout) {
		t.Errorf("seed %d: a timeout without deadline: %v", seed, err)
	}
	hasFail := slices.ContainsFunc(actors, func(a *stressActor) bool { return a.kind == kFails })
	if !hasFail && err != nil {
		t.Errorf("seed %d logging %v: unexpected error %v", seed, logging, err)
	}
	mu.Lock()
	for _, v := range violations {
		t.Errorf("seed %d logging %v: %s", seed, logging, v)
	}
	mu.Unlock()
}

func TestRandomStagedGroupsStopInOrderWhetherOrNotTheyLog(t *testing.T) {
	iters := 400
	if testing.Short() {
		iters = 50
	}
	for seed := range uint64(iters) {
		runStress(t, seed, seed%2 == 0)
		if t.Failed() {
			return
		}
	}
}
