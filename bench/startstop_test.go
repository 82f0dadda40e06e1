// Package bench compares troupe with the libraries a user would pick
// instead, doing the same work in one run on one machine. It is a separate
// module so that the peers never enter troupe's go.mod.
package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/run"
	"github.com/sourcegraph/conc/pool"
	"github.com/troupe-go/troupe"
	"golang.org/x/sync/errgroup"
)

var sizes = []int{1, 100, 10_000}

// Each library starts N actors that block until told to stop, plus one
// that returns at once and so stops them all, in the library's own idiom:
// an interrupt per actor for troupe and oklog/run, a shared context for
// errgroup and conc, and a WaitGroup with one closed channel for the floor.
func BenchmarkStartStop(b *testing.B) {
	for _, n := range sizes {
		bench := func(lib string, once func(n int)) {
			b.Run(fmt.Sprintf("lib=%s/N=%d", lib, n), func(b *testing.B) {
				b.ReportAllocs()
				before := goroutinesCreated()
				for b.Loop() {
					once(n)
				}
				// Each goroutine is a start, a switch and an exit: at N=1
				// they are most of the cost, so the count says where a
				// difference comes from.
				b.ReportMetric(float64(goroutinesCreated()-before)/float64(b.N), "goroutines/op")
			})
		}
		bench("troupe", troupeStartStop)
		bench("oklog-run", oklogStartStop)
		bench("errgroup", errgroupStartStop)
		bench("conc", concStartStop)
		bench("floor", floorStartStop)
		bench("floorint", floorintStartStop)
		bench("floorcontract", floorcontractStartStop)
		bench("floorgroup", floorgroupStartStop)
	}
}

// goroutinesCreated counts the goroutines the process has started.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func blockUntilInterrupted() (func() error, func(error)) {
	stop := make(chan struct{})
	return func() error { <-stop; return nil }, func(error) { close(stop) }
}

func returnAtOnce() (func() error, func(error)) {
	return func() error { return nil }, func(error) {}
}

func troupeStartStop(n int) {
	var g troupe.Group
	for range n {
		g.Add(blockUntilInterrupted())
	}
	g.Add(returnAtOnce())
	if err := g.Run(); err != nil {
		panic(err)
	}
}

func oklogStartStop(n int) {
	var g run.Group
	for range n {
		g.Add(blockUntilInterrupted())
	}
	g.Add(returnAtOnce())
	if err := g.Run(); err != nil {
		panic(err)
	}
}

// errgroup cancels only on errors, so the actor that returns first cancels
// the shared context itself.
func errgroupStartStop(n int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	for range n {
		g.Go(func() error { <-ctx.Done(); return nil })
	}
	g.Go(func() error { cancel(); return nil })
	if err := g.Wait(); err != nil {
		panic(err)
	}
}

func concStartStop(n int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := pool.New().WithContext(ctx)
	for range n {
		p.Go(func(ctx context.Context) error { <-ctx.Done(); return nil })
	}
	p.Go(func(context.Context) error { cancel(); return nil })
	if err := p.Wait(); err != nil {
		panic(err)
	}
}

// floorStartStop is the least any library can do: N goroutines, a
// WaitGroup, and one closed channel.
func floorStartStop(n int) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { <-stop })
	}
	wg.Go(func() { close(stop) })
	wg.Wait()
}

// pair is an actor of the floors, which hold their pairs themselves.
type pair struct {
	execute   func() error
	interrupt func(error)
}

// workloadPairs gives StartStop's actors as pairs: n that block until
// interrupted, and one that returns at once.
func workloadPairs(n int) []pair {
	pairs := make([]pair, 0, n+1)
	for range n {
		e, i := blockUntilInterrupted()
		pairs = append(pairs, pair{e, i})
	}
	e, i := returnAtOnce()
	return append(pairs, pair{e, i})
}

// floorintStartStop is the least a library can do with an interrupt per
// actor: the same pairs as troupe's and oklog/run's, each execute on a
// goroutine, the interrupts called in turn once the first returns, and one
// WaitGroup.
func floorintStartStop(n int) {
	pairs := workloadPairs(n)
	first := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for _, p := range pairs {
		wg.Go(func() {
			p.execute()
			select {
			case first <- struct{}{}:
			default:
			}
		})
	}
	<-first
	for _, p := range pairs {
		p.interrupt(nil)
	}
	wg.Wait()
}

// floorcontractStartStop is the least a library can do that keeps
// troupe's contract for this workload, where floorint does not: a panic in
// an execute or an interrupt is recovered into an error, a Goexit in one is
// reported, every error is kept, and the interrupts are called off the
// caller's goroutine (where a Goexit would end the caller) and
// concurrently, so that one that blocks delays none of the others. The
// actor that returns first starts a goroutine that calls them, leaving a
// spare goroutine waiting to take the next should a call block; so at N=1
// it runs four goroutines where oklog/run runs two. The returning actor's
// own goroutine, though free, is not used: its execute may have left it
// locked to a thread it changed, which Go ends with the goroutine, and no
// interrupt may run there. It has no deadline, names, stages, readiness or
// logging, which cost troupe more.
func floorcontractStartStop(n int) {
	pairs := workloadPairs(n)
	var (
		wg          sync.WaitGroup
		mu          sync.Mutex
		errs        []error
		next        atomic.Int64
		spare, seen atomic.Bool
	)
	keep := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	var work func()
	work = func() {
		spare.Store(false)
		for {
			i := int(next.Add(1) - 1)
			if i >= len(pairs) {
				return
			}
			if i+1 < len(pairs) && !spare.Load() && spare.CompareAndSwap(false, true) {
				wg.Go(work)
			}
			keep(guarded(func() error { pairs[i].interrupt(nil); return nil }))
		}
	}
	for _, p := range pairs {
		wg.Go(func() {
			keep(guarded(p.execute))
			if !seen.Load() && seen.CompareAndSwap(false, true) {
				wg.Go(work)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		panic(err)
	}
}

var errGoexit = errors.New("runtime.Goexit called")

// guarded calls fn, and turns its panic or its runtime.Goexit into an
// error.
func guarded(fn func() error) (err error) {
	completed := false
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		} else if !completed {
			err = errGoexit
		}
	}()
	err = fn()
	completed = true
	return err
}

// BenchmarkStartStopRatio runs the libraries in interleaved rounds, each
// round timing every library on the same workload one after another, so
// that the machine's noise hits all of them alike; it reports the median
// over the rounds of troupe's time divided by each other library's. Its
// ns/op is a whole round, and means nothing alone. A -benchtime that is a
// multiple of seven rounds puts every library first equally often.
func BenchmarkStartStopRatio(b *testing.B) {
	libs := []struct {
		name string
		once func(n int)
	}{
		{"troupe", troupeStartStop},
		{"oklog-run", oklogStartStop},
		{"floorint", floorintStartStop},
		{"floorcontract", floorcontractStartStop},
		{"floorgroup", floorgroupStartStop},
		{"errgroup", errgroupStartStop},
		{"conc", concStartStop},
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			reps := max(1, 1000/n) // enough work per timing that the clock's grain does not matter
			ratios := make([][]float64, len(libs))
			took := make([]time.Duration, len(libs))
			for round := 0; b.Loop(); round++ {
				// Each round begins with the next library: whichever runs
				// first pays for the garbage the round before left, and a
				// fixed order would charge that to troupe every time.
				for k := range libs {
					i := (round + k) % len(libs)
					start := time.Now()
					for range reps {
						libs[i].once(n)
					}
					took[i] = time.Since(start)
				}
				for i := 1; i < len(libs); i++ {
					ratios[i] = append(ratios[i], float64(took[0])/float64(took[i]))
				}
			}
			for i := 1; i < len(libs); i++ {
				b.ReportMetric(median(ratios[i]), "troupe/"+libs[i].name)
			}
		})
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
