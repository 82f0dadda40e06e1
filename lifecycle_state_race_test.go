package troupe_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/troupe-go/troupe"
)

// State "only moves forward", and /readyz must answer 503 from the moment
// Stop returns. groupStatus.enter is a load then a store, not a
// compare-and-swap; Stop moves the state from its own goroutine while the
// Run moves it to Ready, so a Ready stored after Stop's Stopping takes the
// state back. A stress test: it needs the two stores to cross.
func TestTheStateNeverGoesBackWhenStopRacesReadiness(t *testing.T) {
	// On 2 CPUs under -race the stores cross within a few thousand
	// iterations; with enter as a compare-and-swap, 150k pass (~25s).
	n := 20000
	if s := os.Getenv("TROUPE_STATE_RACE_ITER"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	backwards := 0
	for range n {
		var g troupe.Group
		pass, started := make(chan struct{}), make(chan struct{})
		g.Go(func(ctx context.Context) error {
			close(started)
			return blockUntilDone(ctx)
		}).ReadyWhen(readyOn(pass))
		ran := make(chan error, 1)
		go func() { ran <- g.Run() }()
		<-started
		close(pass)
		for range rand.IntN(3000) { // let the Run's move to Ready meet Stop's
		}
		g.Stop()
		seen := g.State()
		if seen == troupe.Ready {
			backwards++
			t.Errorf("State() = %v just after Stop returned", seen)
		}
		for seen != troupe.Stopped {
			s := g.State()
			if s < seen {
				backwards++
				t.Errorf("State() went from %v back to %v", seen, s)
			}
			seen = s
		}
		<-ran
		if backwards > 3 {
			t.FailNow()
		}
	}
}
