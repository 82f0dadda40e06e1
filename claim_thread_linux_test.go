package troupe_test

import (
	"os"
	"runtime"
	"syscall"
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
		here, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		var want syscall.Stat_t
		if err := syscall.Stat(here, &want); err != nil {
			t.Fatal(err)
		}
		elsewhere := t.TempDir()

		var g troupe.Group
		stop := make(chan struct{})
		g.Add(func() error { <-stop; return nil }, func(error) { close(stop) })
		var unshareErr, chdirErr, statErr error
		var seen syscall.Stat_t
		g.Add(func() error {
			time.Sleep(time.Second) // after the start, so that the return claims
			runtime.LockOSThread()  // and never unlocked
			if unshareErr = syscall.Unshare(syscall.CLONE_FS); unshareErr == nil {
				chdirErr = syscall.Chdir(elsewhere)
			}
			return nil
		}, func(error) { statErr = syscall.Stat(".", &seen) })

		if err := g.Run(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if unshareErr != nil {
			t.Skipf("unshare(CLONE_FS): %v", unshareErr)
		}
		if chdirErr != nil || statErr != nil {
			t.Fatalf("chdir: %v, stat: %v", chdirErr, statErr)
		}
		if seen.Dev != want.Dev || seen.Ino != want.Ino {
			t.Fatalf("the interrupt ran in the working directory its execute's thread moved to (%s), not the process's (%s)", elsewhere, here)
		}
	})
}
