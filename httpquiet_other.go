//go:build !linux

package troupe

import "net"

// refuseNewConnections reports false: only Linux can stop a listening
// socket from taking new connections while keeping its accept queue. The
// drain then begins with Shutdown, as it always did.
func refuseNewConnections(net.Listener) (boundTo int, ok bool) { return 0, false }

// shareAfterClose has nothing to undo here.
func shareAfterClose(net.Listener, int) (release func()) { return func() {} }
