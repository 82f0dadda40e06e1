package troupe_test

import (
	"errors"
	"os"
	"runtime"
	"syscall"
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
		here, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		var want syscall.Stat_t
		if err := syscall.Stat(here, &want); err != nil {
			t.Fatal(err)
		}
		elsewhere := t.TempDir()
		var unshareErr, chdirErr error
		inProcessDir := func() bool {
			var seen syscall.Stat_t
			return syscall.Stat(".", &seen) == nil && seen.Dev == want.Dev && seen.Ino == want.Ino
		}
		var attempts int
		var firstInterruptHome, secondAttemptHome bool
		again := errors.New("again")
		execute, _ := troupe.Restart(func() (func() error, func(error)) {
			attempts++
			if attempts == 1 {
				return func() error {
					runtime.LockOSThread() // and never unlocked
					if unshareErr = syscall.Unshare(syscall.CLONE_FS); unshareErr == nil {
						chdirErr = syscall.Chdir(elsewhere)
					}
					return again
				}, func(error) { firstInterruptHome = inProcessDir() }
			}
			return func() error {
				secondAttemptHome = inProcessDir()
				return troupe.ErrNoRestart
			}, func(error) {}
		}, troupe.Backoff(time.Second, time.Second, 1))

		if err := execute(); !errors.Is(err, troupe.ErrNoRestart) {
			t.Fatalf("execute() = %v, want the second attempt's ErrNoRestart", err)
		}
		if unshareErr != nil {
			t.Skipf("unshare(CLONE_FS): %v", unshareErr)
		}
		if chdirErr != nil {
			t.Fatal(chdirErr)
		}
		if !firstInterruptHome || !secondAttemptHome {
			t.Fatalf("ran in the directory the first attempt's thread moved to: its interrupt %v, the next attempt %v",
				!firstInterruptHome, !secondAttemptHome)
		}
	})
}
