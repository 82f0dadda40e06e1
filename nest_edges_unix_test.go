//go:build unix

package troupe_test

// Nested groups at their edges, found by trying to break them.

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

const breakChildEnv = "TROUPE_BREAK_NEST_CHILD"

// The consequence of TestARefusedOuterGroupStillInterruptsNestedActors for
// a real pair: a Signals actor in a nested group of a refused outer group
// keeps SIGTERM caught after Run has returned, so the process survives it.
// The same pair in a refused plain group gives the signal back (the
// existing scenario invalid-then-signal).
func TestNestedSignalsAreReleasedAfterARefusedRun(t *testing.T) {
	if os.Getenv(breakChildEnv) == "nested-invalid-then-signal" {
		var outer, inner troupe.Group
		inner.Add(troupe.Signals(syscall.SIGTERM)).Name("signals")
		outer.AddGroup(&inner).Name("workers")
		outer.Add(nil, nil).Name("broken")
		fmt.Println("run returned:", outer.Run())
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		time.Sleep(10 * time.Second) // a bound: the signal kills at once when not caught
		runtime.KeepAlive(&inner)
		fmt.Println("survived")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNestedSignalsAreReleasedAfterARefusedRun$")
	cmd.Env = append(os.Environ(), breakChildEnv+"=nested-invalid-then-signal")
	out, _ := cmd.CombinedOutput()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("the child survived SIGTERM (%v): the nested Signals actor still caught it; output:\n%s", cmd.ProcessState, out)
	}
}
