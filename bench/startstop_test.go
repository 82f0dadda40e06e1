// Package bench compares troupe with the libraries a user would pick
// instead, doing the same work in one run on one machine. It is a separate
// module so that the peers never enter troupe's go.mod.
package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"

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
				for b.Loop() {
					once(n)
				}
			})
		}
		bench("troupe", troupeStartStop)
		bench("oklog-run", oklogStartStop)
		bench("errgroup", errgroupStartStop)
		bench("conc", concStartStop)
		bench("floor", floorStartStop)
	}
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
