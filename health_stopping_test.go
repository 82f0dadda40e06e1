package troupe_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// verboseStates gives the actor lines of g's /readyz?verbose.
func verboseStates(g *troupe.Group) string {
	rec := newRecorder()
	g.HealthHandler().ServeHTTP(rec, mustRequest("/readyz?verbose"))
	body, _ := io.ReadAll(rec.Body)
	_, states, _ := strings.Cut(string(body), "\n")
	return states
}

// heldPair is an actor whose interrupt waits for release before it stops
// the execute.
func heldPair(release <-chan struct{}) (func() error, func(error)) {
	stop := make(chan struct{})
	return func() error { <-stop; return nil }, func(error) { <-release; close(stop) }
}

// heldRelease gives the channel heldPair's interrupts wait on, and what
// closes it, once.
func heldRelease() (chan struct{}, func()) {
	release := make(chan struct{})
	return release, sync.OnceFunc(func() { close(release) })
}

// An actor reads as stopping from the moment its stop stage's interrupts
// begin, whether it was ready or still starting; one whose stage has not
// come reads as it did. So with a Stop, through the runner.
func TestVerboseHealthReadsAnActorStoppingOnceItsStageIsInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g troupe.Group
		release, releaseAll := heldRelease()
		defer releaseAll() // so that a failure ends the Run, and the bubble
		g.Add(heldPair(release)).Name("api")
		g.Add(heldPair(release)).Name("warming").ReadyWhen(func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		g.Add(heldPair(release)).Name("store").StopAfter("api", "warming")
		ran := runAsync(&g)
		synctest.Wait()
		if got, want := verboseStates(&g), "api: ready\nwarming: starting\nstore: ready\n"; got != want {
			t.Fatalf("running: %q, want %q", got, want)
		}
		g.Stop()
		synctest.Wait() // api's and warming's interrupts wait for release; store's stage waits for them
		if got, want := verboseStates(&g), "api: stopping\nwarming: stopping\nstore: ready\n"; got != want {
			t.Fatalf("stopping: %q, want %q", got, want)
		}
		releaseAll()
		if err := <-ran; !errors.Is(err, troupe.ErrStopRequested) {
			t.Fatalf("Run: %v, want ErrStopRequested", err)
		}
		if got, want := verboseStates(&g), "api: stopped\nwarming: stopped\nstore: stopped\n"; got != want {
			t.Fatalf("after Run: %q, want %q", got, want)
		}
	})
}

// The same when a plain group's first return begins the shutdown itself,
// off the runner (claim.go): the actor that returned reads as stopped,
// and one whose interrupt is held as stopping.
func TestVerboseHealthReadsStoppingWhenAReturnBeginsTheShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g troupe.Group
		release, releaseAll := heldRelease()
		defer releaseAll() // so that a failure ends the Run, and the bubble
		g.Add(heldPair(release)).Name("api")
		quit := make(chan struct{})
		g.Add(func() error { <-quit; return nil }, func(error) {}).Name("quits")
		ran := runAsync(&g)
		synctest.Wait()
		if got, want := verboseStates(&g), "api: ready\nquits: ready\n"; got != want {
			t.Fatalf("running: %q, want %q", got, want)
		}
		close(quit)
		synctest.Wait()
		if got, want := verboseStates(&g), "api: stopping\nquits: stopped\n"; got != want {
			t.Fatalf("stopping: %q, want %q", got, want)
		}
		releaseAll()
		if err := <-ran; err != nil {
			t.Fatalf("Run: %v, want nil after a clean return", err)
		}
	})
}

// Every actor of a stage reads as stopping as soon as the stage's first
// interrupt runs, not only once its own interrupt is entered: the first
// interrupt looks before any other can have been taken (one processor
// keeps the interrupter's spare from running beside it).
func TestVerboseHealthReadsAWholeStageStoppingAsItsFirstInterruptRuns(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var g troupe.Group
	seen := make(chan string, 1)
	stopFirst, stopSecond := make(chan struct{}), make(chan struct{})
	g.Add(func() error { <-stopFirst; return nil }, func(error) {
		seen <- verboseStates(&g)
		close(stopFirst)
	}).Name("first")
	g.Add(func() error { <-stopSecond; return nil }, func(error) { close(stopSecond) }).Name("second")
	quit := make(chan struct{})
	g.Add(func() error { <-quit; return nil }, func(error) {}).Name("quits")
	ran := make(chan error, 1)
	go func() { ran <- g.Run() }()
	if err := g.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(quit)
	got := <-seen
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := "first: stopping\nsecond: stopping\nquits: stopped\n"; got != want {
		t.Fatalf("as the first interrupt runs: %q, want %q", got, want)
	}
}

// NotReady leaves out an actor still starting once its stage's interrupts
// have begun: it is stopping.
func TestNotReadyLeavesOutAStartingActorOnceItsStageIsInterrupted(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var g troupe.Group
	seen := make(chan []string, 1)
	stopFirst, stopChecked := make(chan struct{}), make(chan struct{})
	g.Add(func() error { <-stopFirst; return nil }, func(error) {
		seen <- g.NotReady()
		close(stopFirst)
	}).Name("first")
	checking := make(chan struct{})
	g.Add(func() error { <-stopChecked; return nil }, func(error) { close(stopChecked) }).Name("checked").
		ReadyWhen(func(ctx context.Context) error { close(checking); <-ctx.Done(); return ctx.Err() })
	ran := make(chan error, 1)
	go func() { ran <- g.Run() }()
	<-checking
	g.Stop()
	got := <-seen
	if err := <-ran; !errors.Is(err, troupe.ErrStopRequested) {
		t.Fatalf("Run: %v, want ErrStopRequested", err)
	}
	if len(got) != 0 {
		t.Fatalf("NotReady as the first interrupt runs: %q, want none", got)
	}
}

// When ShutdownTimeout passes, Run calls the later stages' interrupts and
// returns without waiting for them: an actor of such a stage, still
// running, reads as stopping under the stopped group, not as ready.
func TestALaterStageReadsStoppingAsRunReturnsAtTheDeadline(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{ShutdownTimeout: time.Second}
		release, releaseAll := heldRelease()
		defer releaseAll() // so that a failure ends the Run, and the bubble
		g.Add(heldPair(release)).Name("stuck")
		g.Add(heldPair(release)).Name("late").StopAfter("stuck")
		g.Go(func(context.Context) error { return nil }).Name("quits")
		err := g.Run()
		got := verboseStates(&g)
		var te *troupe.TimeoutError
		if !errors.As(err, &te) || !slices.Equal(te.Stragglers, []string{"stuck", "late"}) {
			t.Fatalf("Run: %v, want a TimeoutError naming stuck and late", err)
		}
		if want := "stuck: stopping\nlate: stopping\nquits: stopped\n"; got != want {
			t.Fatalf("as Run returns: %q, want %q", got, want)
		}
	})
}

// A group that starts nothing, because it was stopped before its Run or
// Run refused it, reads its actors as never started once Run returns,
// not as waiting for a Run to come; NotReady still names them, as it
// names any actor that never started. review 2 (helper 26).
func TestActorsOfAGroupThatStartedNothingReadNeverStarted(t *testing.T) {
	var stopped troupe.Group
	stopped.Add(func() error { return nil }, func(error) {}).Name("api")
	stopped.Stop()
	if err := stopped.Run(); !errors.Is(err, troupe.ErrStopRequested) {
		t.Fatalf("Run: %v, want ErrStopRequested", err)
	}
	var refused troupe.Group
	refused.Add(func() error { return nil }, func(error) {}).Name("api")
	refused.Add(nil, func(error) {}).Name("bad")
	if err := refused.Run(); !errors.Is(err, troupe.ErrInvalid) {
		t.Fatalf("Run: %v, want ErrInvalid", err)
	}
	for _, c := range []struct {
		g        *troupe.Group
		want     string
		notReady []string
	}{
		{&stopped, "api: never started\n", []string{"api"}},
		{&refused, "api: never started\nbad: never started\n", []string{"api", "bad"}},
	} {
		if got := verboseStates(c.g); got != c.want || !slices.Equal(c.g.NotReady(), c.notReady) {
			t.Errorf("after Run: verbose %q, NotReady %q; want %q and %q", got, c.g.NotReady(), c.want, c.notReady)
		}
	}
}

// A one-shot whose readiness check waits for what it launched can return
// nil before the check passes. The group is still starting, and NotReady
// and /readyz name it, though it reads as stopped. review 3 (helper 27).
func TestNotReadyNamesAOneShotWhoseCheckIsPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g troupe.Group
		release, releaseAll := heldRelease()
		defer releaseAll()
		g.Add(heldPair(release)).Name("api")
		pass := make(chan struct{})
		g.Add(func() error { return nil }, func(error) {}).Name("migrate").OneShot().
			ReadyWhen(func(ctx context.Context) error {
				select {
				case <-pass:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		ran := runAsync(&g)
		synctest.Wait() // migrate has returned nil; its check still waits
		if code, state, body := readyz(&g); g.State() != troupe.Starting || code != 503 || state != "starting" ||
			body != "starting; not ready: migrate\n" || !slices.Equal(g.NotReady(), []string{"migrate"}) {
			t.Fatalf("state %v, /readyz %d %q %q, NotReady %q; want starting, naming migrate", g.State(), code, state, body, g.NotReady())
		}
		if got, want := verboseStates(&g), "api: ready\nmigrate: stopped\n"; got != want {
			t.Fatalf("verbose %q, want %q", got, want)
		}
		close(pass)
		synctest.Wait()
		if g.State() != troupe.Ready || len(g.NotReady()) != 0 {
			t.Fatalf("once the check passed: state %v, NotReady %q; want ready, none", g.State(), g.NotReady())
		}
		g.Stop()
		releaseAll()
		if err := <-ran; !errors.Is(err, troupe.ErrStopRequested) {
			t.Fatalf("Run: %v, want ErrStopRequested", err)
		}
	})
}

// StartTimeout fails such a one-shot, still not ready when it passes, as
// it fails an actor still starting. review 3 (helper 27).
func TestStartTimeoutFailsAOneShotWhoseCheckIsPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{StartTimeout: time.Second}
		release, releaseAll := heldRelease()
		defer releaseAll()
		g.Add(heldPair(release)).Name("api")
		g.Add(func() error { return nil }, func(error) {}).Name("launcher").OneShot().
			ReadyWhen(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		ran := runAsync(&g)
		releaseAll() // api stops once interrupted
		var err error
		select {
		case err = <-ran:
		case <-time.After(time.Hour): // fake time, far past StartTimeout
			state, notReady := g.State(), g.NotReady()
			g.Stop()
			<-ran
			t.Fatalf("an hour on, the group still runs: state %v, NotReady %q", state, notReady)
		}
		var ae *troupe.ActorError
		if !errors.Is(err, troupe.ErrNotReady) || !errors.As(err, &ae) || ae.Actor != "launcher" {
			t.Fatalf("Run: %v, want launcher not ready within StartTimeout", err)
		}
	})
}
