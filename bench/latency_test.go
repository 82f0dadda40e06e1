package bench

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/oklog/run"
	"github.com/troupe-go/troupe"
)

// BenchmarkShutdownLatency: 10 actors whose interrupts each block for d, as
// a Shutdown waiting for requests does. The x-d metric is the shutdown's
// length divided by d: about 1 when interrupts run concurrently, about 10
// when they run one after another.
func BenchmarkShutdownLatency(b *testing.B) {
	const n, d = 10, 20 * time.Millisecond
	slowActor := func() (func() error, func(error)) {
		stop := make(chan struct{})
		return func() error { <-stop; return nil }, func(error) { time.Sleep(d); close(stop) }
	}
	type adder interface {
		Run() error
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
			g.Add(returnAtOnce())
			return g
		}},
		{"oklog-run", func() adder {
			g := &run.Group{}
			for range n {
				g.Add(slowActor())
			}
			g.Add(returnAtOnce())
			return g
		}},
	} {
		b.Run("lib="+lib.name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				g := lib.build()
				start := time.Now()
				if err := g.Run(); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(total)/float64(b.N)/float64(d), "x-d")
		})
	}
}

// BenchmarkIdle runs a group of 10 000 idle actors and measures what it
// holds while idle: goroutines and heap per actor, and the CPU the whole
// process uses over an idle window.
func BenchmarkIdle(b *testing.B) {
	const n, window = 10_000, 200 * time.Millisecond
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		goroutinesBefore := runtime.NumGoroutine()

		var g troupe.Group
		for range n {
			g.Add(blockUntilInterrupted())
		}
		stop := make(chan struct{})
		started := make(chan struct{})
		g.Add(func() error { close(started); <-stop; return nil }, func(error) {})
		done := make(chan error, 1)
		go func() { done <- g.Run() }()
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

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
