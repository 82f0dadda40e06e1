package troupe_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// An attempt that locks its goroutine to its thread, changes the thread's
// working directory and returns leaves neither its own interrupt nor the
// next attempt in that directory: each runs on a goroutine of its own, and
// the locked one ends, with its thread, when the attempt returns.
func TestRestartLeavesNoAttemptOnAThreadAnotherChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newThreadMove(t)
		var attempts int
		var firstInterruptHome, secondAttemptHome bool
		again := errors.New("again")
		execute, _ := troupe.Restart(func() (func() error, func(error)) {
			attempts++
			if attempts == 1 {
				return func() error { m.move(); return again }, func(error) { firstInterruptHome = m.atHome() }
			}
			return func() error {
				secondAttemptHome = m.atHome()
				return troupe.ErrNoRestart
			}, func(error) {}
		}, troupe.Backoff(time.Second, time.Second, 1))

		if err := execute(); !errors.Is(err, troupe.ErrNoRestart) {
			t.Fatalf("execute() = %v, want the second attempt's ErrNoRestart", err)
		}
		m.check(t, "the first attempt's interrupt", firstInterruptHome)
		m.check(t, "the next attempt", secondAttemptHome)
	})
}
