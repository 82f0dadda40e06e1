//go:build linux

package troupe_test

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/troupe-go/troupe"
)

// With one processor, interrupts that block in a read(2) on a blocking
// pipe (a real syscall, not the netpoller) until all have begun: the last
// to begin writes a byte for each.
func TestInterruptsBlockedInASyscallAllBeginOnOneProcessor(t *testing.T) {
	for _, procs := range []int{1, 2} {
		withProcs(t, procs)
		for _, n := range []int{2, 3, 16} {
			var fds [2]int
			if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			var g troupe.Group
			calls := allBegin(t, &g, n, func(_ int, begun *atomic.Int32, _ <-chan struct{}) {
				var b [1]byte
				syscall.Read(fds[0], b[:])
			})
			// Every read blocks until a byte comes: once all n interrupts
			// have been entered, n bytes release each exactly once.
			g.Add(returnsNow(nil))
			done := make(chan error, 1)
			go func() { done <- runWithinErr(&g) }()
			eventually(t, fmt.Sprintf("procs=%d n=%d: every interrupt begun while the others block in read(2)", procs, n), func() bool {
				total := int32(0)
				for i := range calls {
					total += calls[i].Load()
				}
				return total == int32(n)
			})
			syscall.Write(fds[1], make([]byte, n))
			if err := <-done; err != nil {
				t.Fatalf("procs=%d n=%d: %v", procs, n, err)
			}
			syscall.Close(fds[0])
			syscall.Close(fds[1])
			checkOnce(t, fmt.Sprint("procs=", procs, " n=", n), calls)
		}
	}
}
