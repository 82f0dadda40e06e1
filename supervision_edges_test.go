package troupe_test

// Restart and Serve at their edges, found by trying to break them.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// ---------------------------------------------------------------------------
// Defects
// ---------------------------------------------------------------------------

// A Backoff whose max is time.Duration(math.MaxInt64), the natural "no
// cap", must wait (practically) forever once the cap is reached. The
// capped float wait, 2^63, does not fit a Duration: the conversion gives a
// negative wait, the timer fires at once, and Restart hot-loops.
func TestRestartBackoffAtAHugeMaxNeverOverflowsIntoNoWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := &attempts{script: func(n int, _ <-chan struct{}) error {
			if n == 12 {
				return fmt.Errorf("attempt 12 ran: %w", troupe.ErrNoRestart)
			}
			return errFlaky
		}}
		h := &capture{}
		g := troupe.Group{Logger: slog.New(h)}
		// Waits 1s, 10s, ..., 1e9s (~32 years); the 11th would be 1e10s,
		// which the cap brings down to ~292 years.
		g.Restart(at.factory, troupe.Backoff(time.Second, time.Duration(math.MaxInt64), 10),
			troupe.BackoffJitter(0)).Name("consumer")
		fire, ran := runUntilFired(&g, nil)
		select {
		case err := <-ran:
			t.Errorf("Run() = %v after %d attempts; gaps %v", err, at.count(), at.gaps())
		case <-time.After(100 * 365 * 24 * time.Hour): // fake time: well past the 11th attempt, well before the capped wait ends
			close(fire)
			if err := <-ran; err != nil {
				t.Errorf("Run() = %v", err)
			}
		}
		if want, have := 11, at.count(); want != have {
			t.Errorf("attempts: want %d (the 12th waits ~292 years), have %d", want, have)
		}
		for _, r := range h.all("attempt ended; restarting") {
			if strings.HasPrefix(r["wait"], "-") {
				t.Errorf("attempt %s logged a negative wait: %s", r["attempt"], r["wait"])
			}
		}
	})
}

// all gives the attributes of every record with msg.
func (c *capture) all(msg string) []map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]string
	for _, r := range c.records {
		if r.Message != msg {
			continue
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		out = append(out, attrs)
	}
	return out
}

// The oklog/run context recipe under Serve, with a context that is already
// done (errgroup's ctx after another goroutine failed first): execute
// returns ctx.Err(), a bare context.Canceled, which is an echo. Serve must
// give the interrupt the context's cause and return nil, every time. It
// races its watch goroutine against execute's return instead.
func TestServeWithAContextAlreadyDoneTakesItAsTheStop(t *testing.T) {
	why := errors.New("another goroutine failed")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(why)
	var tally serveTally
	for range 1000 {
		var cause error
		err := troupe.Serve(ctx, func() error { <-ctx.Done(); return ctx.Err() }, func(c error) { cause = c })
		tally.note(err, cause, why)
	}
	tally.report(t, "a bare context.Canceled after the context is done is an echo")
}

// serveTally counts the runs of a racy Serve test that went wrong.
type serveTally struct {
	runs, wrongReturn, wrongCause int
	lastErr, lastCause            error
}

// note records one run: Serve should have returned nil, and the interrupt
// got want.
func (s *serveTally) note(err, cause, want error) {
	s.runs++
	if err != nil {
		s.wrongReturn++
		s.lastErr = err
	}
	if cause != want {
		s.wrongCause++
		s.lastCause = cause
	}
}

func (s *serveTally) report(t *testing.T, whyNil string) {
	t.Helper()
	if s.wrongReturn > 0 {
		t.Errorf("Serve() returned %v in %d of %d runs, want nil (%s)", s.lastErr, s.wrongReturn, s.runs, whyNil)
	}
	if s.wrongCause > 0 {
		t.Errorf("the interrupt got %v in %d of %d runs, want the context's cause", s.lastCause, s.wrongCause, s.runs)
	}
}

// The same race when the context ends while Serve runs: execute watches
// the context too, and returns as the context ends.
func TestServeWithTheContextDoneAsExecuteReturnsTakesItAsTheStop(t *testing.T) {
	why := errors.New("another goroutine failed")
	var tally serveTally
	for range 1000 {
		ctx, cancel := context.WithCancelCause(context.Background())
		var cause error
		served := make(chan error, 1)
		go func() {
			served <- troupe.Serve(ctx, func() error { <-ctx.Done(); return fmt.Errorf("serving: %w", context.Cause(ctx)) }, func(c error) { cause = c })
		}()
		cancel(why)
		err := <-served // before cause is read: Serve's return orders the interrupt's write before it
		tally.note(err, cause, why)
	}
	tally.report(t, "an error matching the cause is an echo")
}

// An execute that calls runtime.Goexit: the interrupt must still be
// called, exactly once, so that the pair releases what it holds.
func TestServeInterruptsAPairWhoseExecuteGoexits(t *testing.T) {
	var calls atomic.Int32
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		troupe.Serve(context.Background(), func() error { runtime.Goexit(); return nil }, func(error) { calls.Add(1) })
	}()
	<-ended
	if want, have := int32(1), calls.Load(); want != have {
		t.Errorf("interrupt calls: want %d, have %d", want, have)
	}
}

// An execute that calls runtime.Goexit while the interrupt Serve started
// (the context is done) is still running: Serve's goroutine must not end
// before that interrupt has returned.
func TestServeOutlivesTheInterruptOfAnExecuteThatGoexits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		entered, release := make(chan struct{}), make(chan struct{})
		var interruptReturned atomic.Bool
		ended := make(chan struct{})
		go func() {
			defer close(ended)
			troupe.Serve(ctx, func() error { <-entered; runtime.Goexit(); return nil }, func(error) {
				close(entered)
				<-release
				interruptReturned.Store(true)
			})
		}()
		cancel()
		synctest.Wait()
		select {
		case <-ended:
			if !interruptReturned.Load() {
				t.Error("Serve's goroutine ended while the interrupt it called was still running")
			}
		default:
		}
		close(release)
		<-ended
		synctest.Wait()
	})
}

// http.ErrServerClosed is an echo "from any actor": Run treats a pair that
// returns it on its own (other code called srv.Shutdown) as a clean return.
// Serve, whose doc points at the same list, returns it as an error.
func TestServeTakesErrServerClosedAsAnEchoAsRunDoes(t *testing.T) {
	closed := func() error { return http.ErrServerClosed }
	var g troupe.Group
	g.Add(closed, func(error) {}).Name("http")
	if err := g.Run(); err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
	if err := troupe.Serve(context.Background(), closed, func(error) {}); err != nil {
		t.Errorf("Serve() = %v, want nil, as Run gives", err)
	}
}

// ---------------------------------------------------------------------------
// Attacks that held
// ---------------------------------------------------------------------------

// The interrupt comes while the factory makes attempt 2's pair: no attempt
// runs, the fresh pair's interrupt is called once, execute returns nil.
func TestRestartInterruptedInsideTheFactoryRunsNoAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var interrupt func(error)
		at := &attempts{script: func(n int, stop <-chan struct{}) error { return errFlaky }}
		var made atomic.Int32
		factory := func() (func() error, func(error)) {
			if made.Add(1) == 2 {
				interrupt(errors.New("shutting down"))
			}
			return at.factory()
		}
		var execute func() error
		execute, interrupt = troupe.Restart(factory, troupe.Backoff(time.Second, time.Second, 1))
		if err := execute(); err != nil {
			t.Errorf("execute() = %v, want nil", err)
		}
		at.eachInterruptOnce(t)
		at.mu.Lock()
		if !at.began[1].IsZero() {
			t.Error("attempt 2's execute ran")
		}
		at.mu.Unlock()
	})
}

// The interrupt comes from inside the attempt's own interrupt, which
// Restart calls after the attempt failed on its own: no deadlock, no
// second call, no further attempt.
func TestRestartInterruptedFromInsideAnAttemptsInterrupt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var interrupt func(error)
		var calls atomic.Int32
		factory := func() (func() error, func(error)) {
			return func() error { return errFlaky }, func(error) {
				calls.Add(1)
				interrupt(errors.New("shutting down"))
			}
		}
		var execute func() error
		execute, interrupt = troupe.Restart(factory)
		if err := execute(); err != nil {
			t.Errorf("execute() = %v, want nil", err)
		}
		if calls.Load() != 1 {
			t.Errorf("attempt interrupt calls: %d, want 1", calls.Load())
		}
	})
}

// Many concurrent interrupts during an attempt: it is interrupted once.
func TestRestartInterruptedConcurrentlyInterruptsEachAttemptOnce(t *testing.T) {
	for range 50 {
		at := &attempts{script: func(n int, stop <-chan struct{}) error { <-stop; return nil }}
		execute, interrupt := troupe.Restart(at.factory)
		done := make(chan error, 1)
		go func() { done <- execute() }()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { interrupt(errors.New("stop")) })
		}
		wg.Wait()
		if err := <-done; err != nil {
			t.Errorf("execute() = %v", err)
		}
		at.eachInterruptOnce(t)
		if at.count() > 1 {
			t.Errorf("attempts: %d", at.count())
		}
	}
}

// A healthy run resets MaxAttempts too.
func TestRestartHealthyRunResetsMaxAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := &attempts{script: func(n int, _ <-chan struct{}) error {
			if n == 2 {
				time.Sleep(time.Hour)
			}
			return errFlaky
		}}
		execute, _ := troupe.Restart(at.factory, troupe.MaxAttempts(2), troupe.HealthyAfter(time.Minute))
		err := execute()
		if !strings.Contains(fmt.Sprint(err), "gave up after 2 attempts") || at.count() != 3 {
			t.Errorf("execute() = %v after %d attempts, want a give-up after 3", err, at.count())
		}
		at.eachInterruptOnce(t)
	})
}

// Group.Restart nested in a group that has no Logger logs through the
// outer one, with the composed name.
func TestGroupRestartInANestedGroupLogsTheComposedName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &capture{}
		outer := troupe.Group{Logger: slog.New(h), ShutdownTimeout: time.Hour}
		var workers troupe.Group
		at := &attempts{script: func(n int, stop <-chan struct{}) error {
			if n == 1 {
				return errFlaky
			}
			<-stop
			return nil
		}}
		workers.Restart(at.factory, troupe.BackoffJitter(0)).Name("consumer").Timeout(time.Minute)
		outer.AddGroup(&workers).Name("workers")
		fire, ran := runUntilFired(&outer, nil)
		time.Sleep(time.Second)
		synctest.Wait()
		close(fire)
		if err := <-ran; err != nil {
			t.Fatalf("Run() = %v", err)
		}
		r, ok := h.find("attempt ended; restarting")
		if !ok || r["actor"] != "workers/consumer" || r["wait"] != "100ms" || r["attempt"] != "1" {
			t.Errorf("logged %v", r)
		}
		at.eachInterruptOnce(t)
	})
}

// Serve around a Restart pair, cancelled during a wait: nil at once.
func TestServeAroundRestartCancelledDuringAWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := &attempts{script: func(int, <-chan struct{}) error { return errFlaky }}
		execute, interrupt := troupe.Restart(at.factory, troupe.Backoff(time.Minute, time.Minute, 1))
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- troupe.Serve(ctx, execute, interrupt) }()
		synctest.Wait()
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve() = %v", err)
		}
		at.eachInterruptOnce(t)
	})
}
