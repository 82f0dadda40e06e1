//go:build !linux

package troupe

import "net"

// refuseNewConnections reports false: only Linux can stop a listening
// socket from taking new connections while keeping its accept queue. The
// drain then begins with Shutdown, as it always did.
func refuseNewConnections(net.Listener, bool) (release func(), ok bool) { return nil, false }
