package troupe_test

import (
	"fmt"
	"testing"

	"github.com/oklog/run"
	"github.com/troupe-go/troupe"
)

// trivial is an actor that blocks until interrupted: the cheapest actor
// that still exercises start, interrupt and wait.
func trivial() (func() error, func(error)) {
	stop := make(chan struct{})
	return func() error { <-stop; return nil }, func(error) { close(stop) }
}

var sizes = []int{1, 100, 10_000}

// BenchmarkStartStop starts N trivial actors plus one that returns at once,
// and waits for all to stop. The oklog/run sub-benchmarks do the same work
// in the same run, for comparison; bench/ compares more peers.
func BenchmarkStartStop(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("troupe/N=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var g troupe.Group
				for range n {
					g.Add(trivial())
				}
				g.Add(returnsNow(nil))
				if err := g.Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("oklog-run/N=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var g run.Group
				for range n {
					g.Add(trivial())
				}
				g.Add(returnsNow(nil))
				if err := g.Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
