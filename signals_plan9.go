//go:build plan9

package troupe

import (
	"os"
	"syscall"
)

func defaultStopSignals() []os.Signal   { return []os.Signal{os.Interrupt, syscall.SIGTERM} }
func defaultReloadSignals() []os.Signal { return []os.Signal{syscall.SIGHUP} }

// exitStatus is 1: Plan 9's notes have no numbers.
func exitStatus(os.Signal) int { return 1 }
