//go:build !linux || 386

package troupe

import "net"

// acceptQueueLen cannot tell here (linux/386 has no direct getsockopt
// call in package syscall): the drain relies on acceptQuiet alone.
func acceptQueueLen(net.Listener) (n int, known bool) { return 0, false }
