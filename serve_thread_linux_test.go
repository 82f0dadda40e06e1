package troupe_test

import (
	"context"
	"os"
	"runtime"
	"syscall"
	"testing"

	"github.com/troupe-go/troupe"
)

// Serve calls the interrupt on a goroutine of its own also when execute
// returns first: not on the caller's, which execute may have locked to a
// thread it changed (here its working directory, unshared from the
// process's), as TestTheClaimantsInterruptRunsOffItsExecutesThread asks
// of a Group. Serve runs on a goroutine of the test's own, which the
// locked thread ends with.
func TestServeCallsTheInterruptOffExecutesThread(t *testing.T) {
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var want syscall.Stat_t
	if err := syscall.Stat(here, &want); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	var unshareErr, chdirErr, statErr error
	var seen syscall.Stat_t
	served := make(chan error, 1)
	go func() {
		served <- troupe.Serve(context.Background(), func() error {
			runtime.LockOSThread() // and never unlocked
			if unshareErr = syscall.Unshare(syscall.CLONE_FS); unshareErr == nil {
				chdirErr = syscall.Chdir(elsewhere)
			}
			return nil
		}, func(error) { statErr = syscall.Stat(".", &seen) })
	}()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if unshareErr != nil {
		t.Skipf("unshare(CLONE_FS): %v", unshareErr)
	}
	if chdirErr != nil || statErr != nil {
		t.Fatalf("chdir: %v, stat: %v", chdirErr, statErr)
	}
	if seen.Dev != want.Dev || seen.Ino != want.Ino {
		t.Fatalf("the interrupt ran in the working directory execute's thread moved to (%s), not the process's (%s)", elsewhere, here)
	}
}
