//go:build !js && !plan9

package troupe

import (
	"os"
	"syscall"
)

func defaultStopSignals() []os.Signal   { return []os.Signal{os.Interrupt, syscall.SIGTERM} }
func defaultReloadSignals() []os.Signal { return []os.Signal{syscall.SIGHUP} }

// exitStatus is the shell's convention for a process ended by sig.
func exitStatus(sig os.Signal) int {
	if n, ok := sig.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}
