package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/troupe-go/troupe"
)

// goexitThenPanic calls runtime.Goexit, and panics with v in a deferred
// function: the panic is recovered, and Go goes on with the Goexit.
func goexitThenPanic(v any) {
	defer func() { panic(v) }()
	runtime.Goexit()
}

// An interrupt that calls runtime.Goexit ends only Serve's own goroutine
// for it: Serve still returns once execute has, reporting the Goexit, or
// the panic that followed it. Before, Serve waited for that goroutine's
// word for ever. Interrupted by the context, or after execute returned.
func TestServeReportsAGoexitInItsInterrupt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		end   func()
		match func(error) bool
	}{
		{"Goexit", runtime.Goexit, func(err error) bool {
			return strings.Contains(err.Error(), "interrupt called runtime.Goexit")
		}},
		{"Goexit then panic", func() { goexitThenPanic("interrupt") }, func(err error) bool {
			var pe *troupe.PanicError
			return errors.As(err, &pe) && pe.Value == "interrupt"
		}},
	} {
		for _, first := range []string{"the context", "execute"} {
			t.Run(tc.name+", "+first+" first", func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					stop := make(chan struct{})
					execute := func() error { <-stop; return nil }
					if first == "execute" {
						execute = func() error { return errBoom }
					}
					served := make(chan error, 1)
					go func() {
						served <- troupe.Serve(ctx, execute, func(error) {
							if first == "the context" {
								close(stop)
							}
							tc.end()
						})
					}()
					if first == "the context" {
						cancel()
					}
					synctest.Wait()
					var err error
					select {
					case err = <-served:
					default:
						t.Fatal("Serve has not returned, though execute and the interrupt have ended")
					}
					if err == nil || !tc.match(err) {
						t.Fatalf("Serve() = %v, want the interrupt's end reported", err)
					}
					if first == "execute" && !errors.Is(err, errBoom) {
						t.Fatalf("Serve() = %v, want execute's error kept", err)
					}
				})
			})
		}
	}
}

// An execute that calls runtime.Goexit and then panics: Serve cannot
// return, since the Goexit goes on up its caller's goroutine, but it calls
// the interrupt, waits for it, and lets the panic go on up as it would
// have without Serve, rather than swallow it.
func TestServeLetsAPanicAfterGoexitInExecuteGoOn(t *testing.T) {
	var calls atomic.Int32
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		_ = troupe.Serve(context.Background(), func() error { goexitThenPanic("execute"); return nil },
			func(error) { calls.Add(1) })
	}()
	v := <-recovered
	pe, ok := v.(*troupe.PanicError)
	if !ok || pe.Value != "execute" {
		t.Fatalf("the caller recovered %v, want execute's panic as a *PanicError", v)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the interrupt was called %d times, want 1", n)
	}
}

// Under a Group, the panic that follows a Goexit in a served execute is
// the actor's panic, with its own value: Serve passes the *PanicError on,
// and the runner does not wrap it again.
func TestAPanicAfterGoexitThroughServeKeepsItsValue(t *testing.T) {
	for _, viaServe := range []bool{false, true} {
		t.Run(fmt.Sprintf("through Serve %v", viaServe), func(t *testing.T) {
			var g troupe.Group
			execute := func() error { goexitThenPanic("x"); return nil }
			interrupt := func(error) {}
			if viaServe {
				inner := execute
				execute = func() error { return troupe.Serve(context.Background(), inner, interrupt) }
			}
			g.Add(execute, interrupt).Name("a")
			g.Add(newProbe(nil).pair())
			if err := g.Run(); !isPanicOf(err, "x") {
				t.Fatalf("Run() = %v, want a's panic with the value x", err)
			}
		})
	}
}

// When execute calls runtime.Goexit, Serve cannot return the interrupt's
// failure: it goes on up as a panic, which the Group running Serve
// reports, rather than vanish.
func TestServeLetsTheInterruptsFailureGoOnAfterAGoexit(t *testing.T) {
	var g troupe.Group
	g.Add(func() error {
		return troupe.Serve(context.Background(), func() error { runtime.Goexit(); return nil },
			func(error) { panic("interrupt") })
	}, func(error) {}).Name("a")
	g.Add(newProbe(nil).pair())
	if err := g.Run(); !isPanicOf(err, "interrupt") {
		t.Fatalf("Run() = %v, want the interrupt's panic", err)
	}
}
