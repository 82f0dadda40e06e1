//go:build js

package troupe

import (
	"os"
	"syscall"
)

func defaultStopSignals() []os.Signal { return []os.Signal{os.Interrupt, syscall.SIGTERM} }

// defaultReloadSignals is empty where there is no SIGHUP: an OnSignal with
// no signals of its own then waits for nothing, rather than for every
// signal.
func defaultReloadSignals() []os.Signal { return nil }

func exitStatus(sig os.Signal) int {
	if n, ok := sig.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}
