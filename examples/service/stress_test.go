//go:build unix

package main

import (
	"syscall"
	"testing"
)

// A SIGTERM sent as the cache warms, around the moment the servers start,
// must still stop the service cleanly with status 0.
func TestSIGTERMAtReadinessExitsZero(t *testing.T) {
	for i := range 30 {
		s := start(t, "-warmup", "20ms", "-stop-delay", "50ms")
		s.await("cache warmed", "cache")
		s.cmd.Process.Signal(syscall.SIGTERM)
		if code := s.exitCode(); code != 0 {
			t.Fatalf("run %d: exit status %d; output:\n%s", i, code, s.output())
		}
	}
}

// A SIGTERM during the warm-up.
func TestSIGTERMDuringWarmupExitsZero(t *testing.T) {
	for i := range 30 {
		s := start(t, "-warmup", "1h", "-stop-delay", "50ms")
		s.await("actor started", "cache")
		s.cmd.Process.Signal(syscall.SIGTERM)
		if code := s.exitCode(); code != 0 {
			t.Fatalf("run %d: exit status %d; output:\n%s", i, code, s.output())
		}
	}
}
