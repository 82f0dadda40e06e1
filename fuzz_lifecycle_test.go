package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// FuzzLifecycle builds random groups with StartAfter, ReadyWhen,
// OneShot, StartTimeout, StopDelay and Stop, and checks the lifecycle
// contract: every interrupt once; a never-started actor's execute never
// called and listed in NotStartedError; an actor started only after its
// dependencies with a check or a one-shot were ready; Run within
// ShutdownTimeout; state Stopped; no goroutine left (synctest).
func FuzzLifecycle(f *testing.F) {
	for seed := range uint64(300) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		synctest.Test(t, func(t *testing.T) { checkLifecycleGroup(t, seed) })
	})
}

type lcActor struct {
	name     string
	after    []int
	oneShot  bool
	selfStop time.Duration // 0: never on its own
	fail     bool          // its own return is an error
	check    int           // 0 none, 1 passes after checkFor, 2 fails after checkFor, 3 ignores ctx, passes after checkFor
	checkFor time.Duration

	execCalls  atomic.Int32
	intCalls   atomic.Int32
	startSeq   atomic.Int64
	readySeq   atomic.Int64 // check returned nil, or one-shot returned nil
	stop       chan struct{}
	once       sync.Once
	letCheckGo chan struct{}
}

var lcSeq atomic.Int64

func checkLifecycleGroup(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed*31+7))
	n := 1 + rng.IntN(6)
	g := troupe.Group{}
	if rng.IntN(2) == 0 {
		g.ShutdownTimeout = time.Duration(20+rng.IntN(80)) * time.Millisecond
	}
	if rng.IntN(3) == 0 {
		g.StartTimeout = time.Duration(1+rng.IntN(60)) * time.Millisecond
	}
	if rng.IntN(3) == 0 {
		g.StopDelay = time.Duration(1+rng.IntN(15)) * time.Millisecond
	}
	actors := make([]*lcActor, n)
	for i := range actors {
		a := &lcActor{name: fmt.Sprintf("a%d", i), stop: make(chan struct{}), letCheckGo: make(chan struct{})}
		for j := range i {
			if rng.IntN(3) == 0 {
				a.after = append(a.after, j)
			}
		}
		a.oneShot = rng.IntN(4) == 0
		if rng.IntN(3) == 0 {
			a.selfStop = time.Duration(1+rng.IntN(50)) * time.Millisecond
			a.fail = rng.IntN(2) == 0
		}
		if rng.IntN(2) == 0 {
			a.check = 1 + rng.IntN(3)
			if a.check == 3 && g.ShutdownTimeout == 0 {
				a.check = 1
			}
			a.checkFor = time.Duration(rng.IntN(40)) * time.Millisecond
		}
		actors[i] = a
		h := g.Add(func() error {
			a.execCalls.Add(1)
			a.startSeq.Store(lcSeq.Add(1))
			var self <-chan time.Time
			if a.selfStop > 0 {
				self = time.After(a.selfStop)
			}
			if a.oneShot && a.selfStop == 0 {
				self = time.After(time.Millisecond)
			}
			select {
			case <-self:
				if a.fail {
					return fmt.Errorf("%s failed", a.name)
				}
				if a.oneShot {
					a.readySeq.CompareAndSwap(0, lcSeq.Add(1))
				}
				return nil
			case <-a.stop:
				return nil
			}
		}, func(error) {
			a.intCalls.Add(1)
			a.once.Do(func() { close(a.stop) })
		}).Name(a.name)
		for _, j := range a.after {
			h.StartAfter(actors[j].name)
		}
		if a.oneShot {
			h.OneShot()
		}
		if a.check != 0 {
			h.ReadyWhen(func(ctx context.Context) error {
				timer := time.NewTimer(a.checkFor)
				defer timer.Stop()
				done := ctx.Done()
				if a.check == 3 {
					done = nil
				}
				select {
				case <-timer.C:
				case <-done:
					return context.Cause(ctx)
				}
				if a.check == 2 {
					return fmt.Errorf("%s not ready", a.name)
				}
				if a.check == 3 {
					<-a.letCheckGo // and then some: ignores ctx
				}
				a.readySeq.CompareAndSwap(0, lcSeq.Add(1))
				return nil
			})
		}
	}
	stopAt := time.Duration(rng.IntN(80)) * time.Millisecond
	stopTimer := time.AfterFunc(stopAt, g.Stop)
	defer stopTimer.Stop()
	start := time.Now()
	err := g.Run()
	took := time.Since(start)
	stopTimer.Stop()
	for _, a := range actors {
		a.once.Do(func() { close(a.stop) })
		close(a.letCheckGo)
	}
	// A check that ignores ctx may still be in its timer when a deadline
	// made Run return: let fake time run it out. synctest.Test fails if
	// a check or an execute is left running after that.
	time.Sleep(time.Second)
	synctest.Wait()
	t.Logf("seed %d: %d actors, %+v; Run took %v: %v", seed, n, g.ShutdownTimeout, took, err)

	var ns *troupe.NotStartedError
	errors.As(err, &ns)
	var notStarted []string
	if ns != nil {
		notStarted = ns.Actors
	}
	anyStarted := false
	for _, a := range actors {
		anyStarted = anyStarted || a.execCalls.Load() > 0
	}
	for _, a := range actors {
		if c := a.intCalls.Load(); c != 1 {
			t.Errorf("%s: %d interrupt calls", a.name, c)
		}
		started := a.execCalls.Load()
		if started > 1 {
			t.Errorf("%s: %d execute calls", a.name, started)
		}
		if anyStarted && (started == 0) != slices.Contains(notStarted, a.name) {
			t.Errorf("%s: executed %d times, listed as never started: %v", a.name, started, slices.Contains(notStarted, a.name))
		}
		if started == 0 {
			continue
		}
		for _, j := range a.after {
			d := actors[j]
			if d.check == 0 && !d.oneShot {
				continue
			}
			if r := d.readySeq.Load(); r == 0 || r > a.startSeq.Load() {
				t.Errorf("%s started before %s (which it starts after) was ready", a.name, d.name)
			}
		}
	}
	if g.State() != troupe.Stopped {
		t.Errorf("state %v after Run", g.State())
	}
	if g.ShutdownTimeout > 0 && took > stopAt+g.StartTimeout+time.Second {
		t.Errorf("Run took %v", took)
	}
}
