package troupe_test

import (
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// Restart runs the user's code (the factory, each attempt's execute, an
// interrupt once the attempt has returned) on goroutines of their own, so
// that a runtime.Goexit, or a panic that follows one, is reported and not
// lost: the Goexit once ended Restart's own goroutine, and the panic went
// with it.
func TestRestartReportsAGoexitAndAPanicThatFollowsIt(t *testing.T) {
	bad := errors.New("bad")
	for _, tc := range []struct {
		name    string
		factory func() (func() error, func(error))
		want    func(error) bool
	}{
		{"an attempt calls Goexit", func() (func() error, func(error)) {
			return func() error { runtime.Goexit(); return nil }, func(error) {}
		}, func(err error) bool { return strings.Contains(err.Error(), "called runtime.Goexit") }},
		{"an attempt panics after Goexit", func() (func() error, func(error)) {
			return func() error { goexitThenPanic("attempt"); return nil }, func(error) {}
		}, func(err error) bool { return isPanicOf(err, "attempt") }},
		{"the factory panics after Goexit", func() (func() error, func(error)) {
			goexitThenPanic("factory")
			return nil, nil
		}, func(err error) bool { return isPanicOf(err, "factory") }},
		{"the factory calls Goexit", func() (func() error, func(error)) {
			runtime.Goexit()
			return nil, nil
		}, func(err error) bool {
			return strings.Contains(err.Error(), "the factory failed: called runtime.Goexit")
		}},
		{"the interrupt of an attempt that returned panics after Goexit", func() (func() error, func(error)) {
			return func() error { return errors.Join(bad, troupe.ErrNoRestart) }, func(error) { goexitThenPanic("interrupt") }
		}, func(err error) bool { return isPanicOf(err, "interrupt") && errors.Is(err, bad) }},
		{"the interrupt of an attempt that returned calls Goexit", func() (func() error, func(error)) {
			return func() error { return errors.Join(bad, troupe.ErrNoRestart) }, func(error) { runtime.Goexit() }
		}, func(err error) bool {
			return strings.Contains(err.Error(), "interrupt called runtime.Goexit") && errors.Is(err, bad)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g troupe.Group
				g.Restart(tc.factory, troupe.MaxAttempts(1)).Name("consumer")
				g.Add(newProbe(nil).pair())
				err := g.Run()
				if err == nil || !tc.want(err) || !strings.Contains(err.Error(), `"consumer"`) {
					t.Fatalf("Run() = %v", err)
				}
			})
		})
	}
}

// A Goexit in an attempt is a failed attempt, as a panic is: the next
// attempt runs after the backoff.
func TestRestartRestartsAnAttemptThatCallsGoexit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var attempts atomic.Int32
		execute, _ := troupe.Restart(func() (func() error, func(error)) {
			n := attempts.Add(1)
			return func() error {
				if n == 1 {
					runtime.Goexit()
				}
				return troupe.ErrNoRestart
			}, func(error) {}
		}, troupe.Backoff(time.Second, time.Second, 1))
		if err := execute(); !errors.Is(err, troupe.ErrNoRestart) {
			t.Fatalf("execute() = %v, want the second attempt's ErrNoRestart", err)
		}
		if n := attempts.Load(); n != 2 {
			t.Fatalf("%d attempts, want 2", n)
		}
	})
}

func isPanicOf(err error, v any) bool {
	var pe *troupe.PanicError
	return errors.As(err, &pe) && pe.Value == v
}

// A factory that returns a nil execute with an interrupt: Restart calls
// the interrupt, so that the pair releases what it holds, and its failure
// is reported beside the nil execute, not dropped.
func TestRestartReportsTheInterruptOfAPairWithANilExecute(t *testing.T) {
	for name, interrupt := range map[string]func(error){
		"panic":  func(error) { panic("in") },
		"Goexit": func(error) { runtime.Goexit() },
	} {
		t.Run(name, func(t *testing.T) {
			var g troupe.Group
			g.Restart(func() (func() error, func(error)) { return nil, interrupt }).Name("r")
			g.Add(newProbe(nil).pair())
			err := g.Run()
			if err == nil || !strings.Contains(err.Error(), "nil execute") ||
				!(isPanicOf(err, "in") || strings.Contains(err.Error(), "interrupt called runtime.Goexit")) {
				t.Fatalf("Run() = %v, want the nil execute and the interrupt's %s", err, name)
			}
		})
	}
}
