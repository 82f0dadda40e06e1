package bench

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/oklog/run"
	"github.com/troupe-go/troupe"
)

// BenchmarkShutdownLatency: N actors whose interrupts each block for d, as
// a Shutdown waiting for requests does. The over-d-ms metric is how much
// longer than d the whole Run took, starting included; x-d is its length
// divided by d: about 1 when interrupts run concurrently, about N when
// they run one after another (oklog/run is measured at N=10 only, where
// that takes 200 ms). stop-over-d-ms counts from the moment the actor
// that begins the shutdown returns: the shutdown's own latency over d.
func BenchmarkShutdownLatency(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { shutdownLatency(b, n) })
	}
}

func shutdownLatency(b *testing.B, n int) {
	const d = 20 * time.Millisecond
	slowActor := func() (func() error, func(error)) {
		stop := make(chan struct{})
		return func() error { <-stop; return nil }, func(error) { time.Sleep(d); close(stop) }
	}
	type adder interface {
		Run() error
	}
	// trigger returns at once, noting when: the shutdown begins there.
	var triggered time.Time
	trigger := func() (func() error, func(error)) {
		return func() error { triggered = time.Now(); return nil }, func(error) {}
	}
	for _, lib := range []struct {
		name  string
		build func() adder
	}{
		{"troupe", func() adder {
			g := &troupe.Group{}
			for range n {
				g.Add(slowActor())
			}
			g.Add(trigger())
			return g
		}},
		{"oklog-run", func() adder {
			g := &run.Group{}
			for range n {
				g.Add(slowActor())
			}
			g.Add(trigger())
			return g
		}},
		{"floorint", func() adder {
			f := &concurrentFloor{}
			for range n {
				f.add(slowActor())
			}
			f.add(trigger())
			return f
		}},
	} {
		if lib.name == "oklog-run" && n > 10 {
			continue // N × d: 2 s and 20 s a run
		}
		b.Run("lib="+lib.name, func(b *testing.B) {
			var total, stopping time.Duration
			for b.Loop() {
				g := lib.build()
				start := time.Now()
				if err := g.Run(); err != nil {
					b.Fatal(err)
				}
				end := time.Now()
				total += end.Sub(start)
				stopping += end.Sub(triggered) // Run's return follows the trigger's write
			}
			mean := float64(total) / float64(b.N)
			b.ReportMetric(mean/float64(d), "x-d")
			b.ReportMetric((mean-float64(d))/float64(time.Millisecond), "over-d-ms")
			b.ReportMetric((float64(stopping)/float64(b.N)-float64(d))/float64(time.Millisecond), "stop-over-d-ms")
		})
	}
}

// concurrentFloor is the least a library can do that calls every
// interrupt at once: each execute on a goroutine, and once the first
// returns, each interrupt on a goroutine of its own, and one WaitGroup.
type concurrentFloor struct {
	executes   []func() error
	interrupts []func(error)
}

func (f *concurrentFloor) add(execute func() error, interrupt func(error)) {
	f.executes = append(f.executes, execute)
	f.interrupts = append(f.interrupts, interrupt)
}

func (f *concurrentFloor) Run() error {
	first := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for _, execute := range f.executes {
		wg.Go(func() {
			execute()
			select {
			case first <- struct{}{}:
			default:
			}
		})
	}
	<-first
	for _, interrupt := range f.interrupts {
		wg.Go(func() { interrupt(nil) })
	}
	wg.Wait()
	return nil
}

// BenchmarkIdle runs a group of 10 000 idle actors and measures what it
// holds while idle: goroutines and heap per actor, and the CPU the whole
// process uses over an idle window; for troupe and oklog/run alike.
func BenchmarkIdle(b *testing.B) {
	b.Run("lib=troupe", func(b *testing.B) {
		idle(b, func() (func(func() error, func(error)), func() error) {
			g := &troupe.Group{}
			return func(e func() error, i func(error)) { g.Add(e, i) }, g.Run
		})
	})
	b.Run("lib=oklog-run", func(b *testing.B) {
		idle(b, func() (func(func() error, func(error)), func() error) {
			g := &run.Group{}
			return g.Add, g.Run
		})
	})
}

func idle(b *testing.B, newGroup func() (add func(func() error, func(error)), run func() error)) {
	const n, window = 10_000, 200 * time.Millisecond
	// Goroutine descriptors are made once and reused, and count as heap
	// when made: whichever library ran first would pay for them. Make
	// them here, for both.
	var warm sync.WaitGroup
	release := make(chan struct{})
	for range n + 2 {
		warm.Go(func() { <-release })
	}
	close(release)
	warm.Wait()
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		goroutinesBefore := runtime.NumGoroutine()

		add, run := newGroup()
		for range n {
			add(blockUntilInterrupted())
		}
		stop := make(chan struct{})
		started := make(chan struct{})
		add(func() error { close(started); <-stop; return nil }, func(error) {})
		done := make(chan error, 1)
		go func() { done <- run() }()
		<-started
		for runtime.NumGoroutine() < goroutinesBefore+n+1 {
			runtime.Gosched() // until every actor's goroutine is up
		}

		runtime.GC()
		var during runtime.MemStats
		runtime.ReadMemStats(&during)
		goroutines := runtime.NumGoroutine() - goroutinesBefore
		cpuBefore := cpuTime()
		time.Sleep(window) // the idle window being measured, not synchronisation
		cpu := cpuTime() - cpuBefore

		close(stop)
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(goroutines)/n, "goroutines/actor")
		b.ReportMetric(float64(int64(during.HeapAlloc)-int64(before.HeapAlloc))/n, "heap-B/actor")
		b.ReportMetric(float64(cpu.Microseconds())/float64(window.Milliseconds()), "cpu-µs/idle-ms")
	}
}
