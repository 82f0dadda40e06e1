//go:build !linux

package troupe

// monotonicUsec reports no clock: systemd runs only on Linux, and
// SystemdReload leaves MONOTONIC_USEC out elsewhere.
func monotonicUsec() (int64, bool) { return 0, false }
