package troupe_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

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

// An actor reads as stopping from the moment its interrupt is entered,
// whether it was ready or still starting; one whose stop stage has not
// come reads as it did. So with a Stop, through the runner.
func TestVerboseHealthReadsAnActorStoppingOnceItsInterruptIsEntered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g troupe.Group
		release := make(chan struct{})
		releaseAll := sync.OnceFunc(func() { close(release) })
		defer releaseAll() // so that a failure ends the Run, and the bubble
		g.Add(heldPair(release)).Name("api")
		g.Add(heldPair(release)).Name("warming").ReadyWhen(func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		g.Add(heldPair(release)).Name("store").StopAfter("api", "warming")
		ran := make(chan error, 1)
		go func() { ran <- g.Run() }()
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
		release := make(chan struct{})
		releaseAll := sync.OnceFunc(func() { close(release) })
		defer releaseAll() // so that a failure ends the Run, and the bubble
		g.Add(heldPair(release)).Name("api")
		quit := make(chan struct{})
		g.Add(func() error { <-quit; return nil }, func(error) {}).Name("quits")
		ran := make(chan error, 1)
		go func() { ran <- g.Run() }()
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
