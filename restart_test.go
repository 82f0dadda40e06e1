package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// attempts is a factory whose pairs do what script says for attempt n,
// recording when each began and how often each interrupt was called. All
// times are synctest's fake time.
type attempts struct {
	script func(n int, stop <-chan struct{}) error

	mu         sync.Mutex
	began      []time.Time
	interrupts []*atomic.Int32
}

func (at *attempts) factory() (func() error, func(error)) {
	at.mu.Lock()
	n := len(at.began) + 1
	at.began = append(at.began, time.Time{})
	calls := new(atomic.Int32)
	at.interrupts = append(at.interrupts, calls)
	at.mu.Unlock()
	stop := make(chan struct{})
	var once sync.Once
	return func() error {
			at.mu.Lock()
			at.began[n-1] = time.Now()
			at.mu.Unlock()
			return at.script(n, stop)
		}, func(error) {
			calls.Add(1)
			once.Do(func() { close(stop) })
		}
}

// gaps gives the time between one attempt's start and the next's.
func (at *attempts) gaps() []time.Duration {
	at.mu.Lock()
	defer at.mu.Unlock()
	var gaps []time.Duration
	for i := 1; i < len(at.began); i++ {
		gaps = append(gaps, at.began[i].Sub(at.began[i-1]))
	}
	return gaps
}

func (at *attempts) count() int {
	at.mu.Lock()
	defer at.mu.Unlock()
	return len(at.began)
}

// eachInterruptOnce checks that every attempt's interrupt was called
// exactly once.
func (at *attempts) eachInterruptOnce(t *testing.T) {
	t.Helper()
	at.mu.Lock()
	defer at.mu.Unlock()
	for i, calls := range at.interrupts {
		if want, have := int32(1), calls.Load(); want != have {
			t.Errorf("attempt %d: interrupt calls: want %d, have %d", i+1, want, have)
		}
	}
}

var errFlaky = errors.New("upstream dropped")

func TestRestartWaitsWithAnExponentialBackoffWithinItsJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const jitter = 0.2
		at := &attempts{script: func(n int, _ <-chan struct{}) error {
			if n == 8 {
				return fmt.Errorf("final: %w", troupe.ErrNoRestart)
			}
			return errFlaky
		}}
		execute, _ := troupe.Restart(at.factory, troupe.Backoff(time.Second, 8*time.Second, 2), troupe.BackoffJitter(jitter))
		if err := execute(); !errors.Is(err, troupe.ErrNoRestart) {
			t.Fatalf("execute() = %v, want the final attempt's error", err)
		}
		bases := []time.Duration{1, 2, 4, 8, 8, 8, 8}
		gaps := at.gaps()
		if len(gaps) != len(bases) {
			t.Fatalf("%d waits, want %d: %v", len(gaps), len(bases), gaps)
		}
		jittered := 0
		for i, gap := range gaps {
			base := bases[i] * time.Second
			low, high := time.Duration(float64(base)*(1-jitter)), time.Duration(float64(base)*(1+jitter))
			if gap < low || gap > high {
				t.Errorf("wait %d: %v, want within [%v, %v]", i+1, gap, low, high)
			}
			if gap != base {
				jittered++
			}
		}
		if jittered == 0 {
			t.Error("no wait was jittered")
		}
		at.eachInterruptOnce(t)
	})
}

func TestRestartStartsAfreshAfterAHealthyRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := &attempts{script: func(n int, _ <-chan struct{}) error {
			switch n {
			case 4:
				time.Sleep(time.Hour) // a long, healthy run, then a failure
			case 6:
				return troupe.ErrNoRestart
			}
			return errFlaky
		}}
		execute, _ := troupe.Restart(at.factory, troupe.Backoff(time.Second, time.Minute, 2),
			troupe.BackoffJitter(0), troupe.HealthyAfter(10*time.Minute))
		execute()
		want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, time.Hour + time.Second, 2 * time.Second}
		if have := at.gaps(); fmt.Sprint(want) != fmt.Sprint(have) {
			t.Errorf("waits %v, want %v: the healthy run resets the backoff", have, want)
		}
	})
}

func TestRestartGivesUpAfterMaxAttemptsInARow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := &attempts{script: func(int, <-chan struct{}) error { return errFlaky }}
		execute, _ := troupe.Restart(at.factory, troupe.MaxAttempts(3))
		err := execute()
		if !errors.Is(err, errFlaky) || !strings.Contains(err.Error(), "gave up after 3 attempts") {
			t.Fatalf("execute() = %v, want the last error after 3 attempts", err)
		}
		if want, have := 3, at.count(); want != have {
			t.Errorf("attempts: want %d, have %d", want, have)
		}
		at.eachInterruptOnce(t)
	})
}

func TestRestartStopsAtOnceOnErrNoRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad := fmt.Errorf("bad credentials: %w", troupe.ErrNoRestart)
		at := &attempts{script: func(int, <-chan struct{}) error { return bad }}
		execute, _ := troupe.Restart(at.factory)
		if err := execute(); err != bad {
			t.Fatalf("execute() = %v, want %v", err, bad)
		}
		if want, have := 1, at.count(); want != have {
			t.Errorf("attempts: want %d, have %d", want, have)
		}
	})
}

func TestRestartEndsOnANilReturnUnlessAskedToRestartOnNil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := &attempts{script: func(int, <-chan struct{}) error { return nil }}
		execute, _ := troupe.Restart(at.factory)
		if err := execute(); err != nil || at.count() != 1 {
			t.Fatalf("execute() = %v after %d attempts, want nil after 1", err, at.count())
		}

		again := &attempts{script: func(n int, _ <-chan struct{}) error {
			if n == 3 {
				return troupe.ErrNoRestart
			}
			return nil
		}}
		execute, _ = troupe.Restart(again.factory, troupe.RestartOnNil())
		if err := execute(); !errors.Is(err, troupe.ErrNoRestart) || again.count() != 3 {
			t.Fatalf("execute() = %v after %d attempts, want ErrNoRestart after 3", err, again.count())
		}
	})
}

func TestRestartInterruptedDuringAWaitReturnsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := &attempts{script: func(int, <-chan struct{}) error { return errFlaky }}
		execute, interrupt := troupe.Restart(at.factory, troupe.Backoff(time.Minute, time.Minute, 1))
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- execute() }()
		synctest.Wait() // the first attempt has failed; the wait has begun
		interrupt(errors.New("shutting down"))
		if err := <-done; err != nil {
			t.Errorf("execute() = %v, want nil", err)
		}
		if elapsed := time.Since(start); elapsed != 0 {
			t.Errorf("execute returned after %v, want at once", elapsed)
		}
		if want, have := 1, at.count(); want != have {
			t.Errorf("attempts: want %d, have %d", want, have)
		}
		at.eachInterruptOnce(t)
	})
}

func TestRestartInterruptedDuringAnAttemptInterruptsItOnceAndReturnsItsResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flushFailed := errors.New("flush failed")
		at := &attempts{script: func(n int, stop <-chan struct{}) error {
			if n == 1 {
				return errFlaky
			}
			<-stop
			return flushFailed
		}}
		execute, interrupt := troupe.Restart(at.factory, troupe.Backoff(time.Second, time.Second, 1))
		done := make(chan error, 1)
		go func() { done <- execute() }()
		time.Sleep(2 * time.Second) // fake time: attempt 2 is running
		synctest.Wait()
		interrupt(errors.New("shutting down"))
		if err := <-done; err != flushFailed {
			t.Errorf("execute() = %v, want the attempt's own error", err)
		}
		if want, have := 2, at.count(); want != have {
			t.Errorf("attempts: want %d, have %d", want, have)
		}
		at.eachInterruptOnce(t)
		interrupt(nil) // a second interrupt changes nothing
		at.eachInterruptOnce(t)
	})
}

func TestRestartCountsAPanicAsAFailedAttemptAndLogsItsStack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &capture{}
		g := troupe.Group{Logger: slog.New(h)}
		at := &attempts{script: func(n int, stop <-chan struct{}) error {
			if n == 1 {
				panicsInAnAttempt()
			}
			<-stop
			return nil
		}}
		g.Restart(at.factory, troupe.Backoff(time.Second, time.Second, 1), troupe.BackoffJitter(0)).Name("consumer")
		fire, ran := runUntilFired(&g, nil)
		time.Sleep(2 * time.Second) // fake time: attempt 2 is running
		synctest.Wait()
		close(fire)
		if err := <-ran; err != nil {
			t.Fatalf("Run() = %v, want nil", err)
		}
		if want, have := 2, at.count(); want != have {
			t.Errorf("attempts: want %d, have %d", want, have)
		}
		record, ok := h.find("attempt ended; restarting")
		if !ok {
			t.Fatalf("no restart logged: %q", h.events())
		}
		for key, want := range map[string]string{"actor": "consumer", "attempt": "1", "wait": "1s"} {
			if have := record[key]; have != want {
				t.Errorf("logged %s=%q, want %q", key, have, want)
			}
		}
		if !strings.Contains(record["error"], "panicsInAnAttempt") {
			t.Errorf("the logged error has no stack: %q", record["error"])
		}
	})
}

func panicsInAnAttempt() { panic("consumer broke") }

// Restart's pair is silent outside a Group.Restart.
func TestRestartPairIsSilentInAGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &capture{}
		g := troupe.Group{Logger: slog.New(h)}
		at := &attempts{script: func(n int, stop <-chan struct{}) error {
			if n == 1 {
				return errFlaky
			}
			<-stop
			return nil
		}}
		g.Add(troupe.Restart(at.factory)).Name("consumer")
		fire, ran := runUntilFired(&g, nil)
		time.Sleep(time.Second)
		synctest.Wait()
		close(fire)
		<-ran
		if _, ok := h.find("attempt ended; restarting"); ok {
			t.Error("a restart was logged by the plain pair")
		}
	})
}

func TestRestartRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		call func()
		want string
	}{
		{func() { troupe.Restart(nil) }, "troupe: Restart: nil factory"},
		{func() { troupe.Backoff(0, time.Second, 2) }, "troupe: Backoff: want 0 < min ≤ max and factor ≥ 1, not 0s, 1s, 2"},
		{func() { troupe.Backoff(time.Second, time.Millisecond, 2) }, "troupe: Backoff: want 0 < min ≤ max and factor ≥ 1, not 1s, 1ms, 2"},
		{func() { troupe.Backoff(time.Second, time.Second, 0.5) }, "troupe: Backoff: want 0 < min ≤ max and factor ≥ 1, not 1s, 1s, 0.5"},
		{func() { troupe.BackoffJitter(-0.1) }, "troupe: BackoffJitter: fraction -0.1 not in [0, 1]"},
		{func() { troupe.HealthyAfter(-time.Second) }, "troupe: HealthyAfter: non-positive duration -1s"},
		{func() { troupe.MaxAttempts(0) }, "troupe: MaxAttempts: 0 is less than 1"},
	} {
		if have := panicMessage(tc.call); have != tc.want {
			t.Errorf("panic %q, want %q", have, tc.want)
		}
	}

	var g troupe.Group
	g.Restart(nil).Name("consumer")
	if err := g.Run(); !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), `actor "consumer": nil factory`) {
		t.Errorf("Group.Restart(nil): Run() = %v, want ErrInvalid naming the actor", err)
	}
}

func TestRestartReportsAFactoryThatReturnsNilFunctions(t *testing.T) {
	var g troupe.Group
	g.Restart(func() (func() error, func(error)) { return nil, func(error) {} }).Name("consumer")
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("server")
	err := g.Run()
	if want := `troupe: actor "consumer": restart attempt 1: the factory returned a nil execute function`; err == nil || err.Error() != want {
		t.Fatalf("Run() = %v, want %q", err, want)
	}
}
