//go:build linux

package troupe

import (
	"syscall"
	"unsafe"
)

// monotonicUsec reads CLOCK_MONOTONIC, the clock systemd compares
// MONOTONIC_USEC with; the time package gives no absolute reading of it.
func monotonicUsec() (int64, bool) {
	const clockMonotonic = 1
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0, false
	}
	return ts.Nano() / 1e3, true
}
