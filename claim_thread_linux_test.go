package troupe_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// An execute may lock its goroutine to its thread, change what is the
// thread's own (here its working directory, unshared from the process's)
// and return without unlocking: Go then ends the thread with the
// goroutine, the documented way to throw such a thread away. Its interrupt
// must not run on that thread, also when its return is the one that
// begins the shutdown and so is handled on that goroutine (claim.go): an
// interrupt that dials, opens a file or resolves a name would do so in
// the execute's changed world. Found by a review of a change that called
// the claimant's interrupt there to save a goroutine.
func TestTheClaimantsInterruptRunsOffItsExecutesThread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newThreadMove(t)
		var g troupe.Group
		stop := make(chan struct{})
		g.Add(func() error { <-stop; return nil }, func(error) { close(stop) })
		var atHome bool
		g.Add(func() error {
			time.Sleep(time.Second) // after the start, so that the return claims
			m.move()
			return nil
		}, func(error) { atHome = m.atHome() })

		if err := g.Run(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		m.check(t, "the claimant's interrupt", atHome)
	})
}
