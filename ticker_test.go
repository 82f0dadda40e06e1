package troupe_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// runTicker runs a ticker in a group until stop is closed, and gives Run's
// result. All times are synctest's fake time.
func runTicker(t *testing.T, stop chan struct{}, interval time.Duration, fn func(context.Context) error, opts ...troupe.TickerOption) error {
	t.Helper()
	var g troupe.Group
	g.Add(troupe.Ticker(interval, fn, opts...)).Name("ticker")
	fire, tExec, tInt := trigger(nil)
	g.Add(tExec, tInt).Name("stopper")
	go func() {
		<-stop
		close(fire)
	}()
	return g.Run()
}

// runStarts records the fake time at which each run began, relative to
// the bubble's start, and closes stop after n runs.
type runStarts struct {
	start time.Time
	at    []time.Duration
	n     int
	stop  chan struct{}
}

func newRunStarts(n int) *runStarts {
	return &runStarts{start: time.Now(), n: n, stop: make(chan struct{})}
}

func (r *runStarts) note() {
	r.at = append(r.at, time.Since(r.start))
	if len(r.at) == r.n {
		close(r.stop)
	}
}

func TestTickerRunsEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRunStarts(3)
		err := runTicker(t, r.stop, time.Second, func(ctx context.Context) error { r.note(); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(want, r.at) {
			t.Errorf("runs at %v, want %v", r.at, want)
		}
	})
}

func TestTickerRunAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRunStarts(2)
		runTicker(t, r.stop, time.Second, func(ctx context.Context) error { r.note(); return nil }, troupe.RunAtStart())
		if want := []time.Duration{0, time.Second}; !slices.Equal(want, r.at) {
			t.Errorf("runs at %v, want %v", r.at, want)
		}
	})
}

func TestTickerSlowRunsSkipTicksAndNeverOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRunStarts(3)
		var running, most atomic.Int32
		runTicker(t, r.stop, time.Second, func(ctx context.Context) error {
			if n := running.Add(1); n > most.Load() {
				most.Store(n)
			}
			defer running.Add(-1)
			r.note()
			time.Sleep(2500 * time.Millisecond) // slower than the interval
			return nil
		})
		// Runs at 1s (ends 3.5s: ticks 2s and 3s skipped), 4s (ends 6.5s), 7s.
		if want := []time.Duration{time.Second, 4 * time.Second, 7 * time.Second}; !slices.Equal(want, r.at) {
			t.Errorf("runs at %v, want %v", r.at, want)
		}
		if most.Load() != 1 {
			t.Errorf("%d runs overlapped", most.Load())
		}
	})
}

func TestTickerInterruptCancelsTheRunningCallWithTheCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g troupe.Group
		entered := make(chan struct{})
		var runReturned atomic.Bool
		causes := make(chan error, 1)
		execute, interrupt := troupe.Ticker(time.Second, func(ctx context.Context) error {
			close(entered)
			<-ctx.Done()
			causes <- context.Cause(ctx)
			runReturned.Store(true)
			return ctx.Err()
		})
		g.Add(func() error {
			err := execute()
			if !runReturned.Load() {
				t.Error("execute returned before the running call did")
			}
			return err
		}, interrupt).Name("ticker")
		boom := errors.New("boom")
		g.Add(func() error { <-entered; return boom }, func(error) {}).Name("failing")
		if err := g.Run(); !errors.Is(err, boom) || len(actorNames(err)) != 1 {
			t.Fatalf("Run() = %v, want only failing's error (the cancelled run is an echo)", err)
		}
		if cause := <-causes; !errors.Is(cause, boom) {
			t.Errorf("the run's context cause = %v, want boom", cause)
		}
	})
}

func TestTickerErrorStopsTheGroupByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad := errors.New("report failed")
		runs := 0
		never := make(chan struct{})
		defer close(never)
		err := runTicker(t, never, time.Second, func(ctx context.Context) error {
			runs++
			if runs == 2 {
				return bad
			}
			return nil
		})
		var ae *troupe.ActorError
		if !errors.Is(err, bad) || !errors.As(err, &ae) || ae.Actor != "ticker" {
			t.Fatalf("Run() = %v, want the ticker's error", err)
		}
		if runs != 2 {
			t.Errorf("%d runs, want 2", runs)
		}
	})
}

func TestTickerContinueOnErrorLogsAndGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &capture{}
		r := newRunStarts(3)
		err := runTicker(t, r.stop, time.Second, func(ctx context.Context) error {
			r.note()
			return errors.New("flaky")
		}, troupe.ContinueOnError(slog.New(h)))
		if err != nil {
			t.Fatalf("Run() = %v, want nil", err)
		}
		if want, have := 3, countOf(h.events(), "ticker run failed; continuing"); want != have {
			t.Errorf("logged %d errors, want %d", have, want)
		}
	})
}

func TestTickerJitterDelaysEachRunWithinTheBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRunStarts(20)
		const interval, jitter = time.Second, 300 * time.Millisecond
		runTicker(t, r.stop, interval, func(ctx context.Context) error { r.note(); return nil }, troupe.Jitter(jitter))
		jittered := 0
		for i, at := range r.at {
			tick := time.Duration(i+1) * interval
			if at < tick || at >= tick+jitter {
				t.Errorf("run %d at %v, want in [%v, %v)", i, at, tick, tick+jitter)
			}
			if at != tick {
				jittered++
			}
		}
		if jittered == 0 {
			t.Error("no run was delayed by jitter")
		}
	})
}

// Jitter spreads the first run too: a fleet started together must not
// fire together.
func TestTickerRunAtStartIsJitteredToo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const jitter = 300 * time.Millisecond
		firsts := map[time.Duration]bool{}
		for range 10 {
			r := newRunStarts(1)
			runTicker(t, r.stop, time.Second, func(ctx context.Context) error { r.note(); return nil }, troupe.RunAtStart(), troupe.Jitter(jitter))
			if at := r.at[0]; at < 0 || at >= jitter {
				t.Errorf("first run at %v, want in [0, %v)", at, jitter)
			}
			firsts[r.at[0]] = true
		}
		if len(firsts) == 1 {
			t.Errorf("ten tickers all ran first at %v", r0(firsts))
		}
	})
}

func r0(m map[time.Duration]bool) time.Duration {
	for k := range m {
		return k
	}
	return 0
}
