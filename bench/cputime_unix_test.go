//go:build unix

package bench

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the whole process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
