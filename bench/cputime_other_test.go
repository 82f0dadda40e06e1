//go:build !unix

package bench

import "time"

// cpuTime is always zero where there is no getrusage, so the idle
// benchmark's CPU figure is only meaningful on Unix.
func cpuTime() time.Duration { return 0 }
