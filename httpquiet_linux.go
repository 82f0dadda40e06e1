package troupe

import (
	"errors"
	"math"
	"net"
	"syscall"
)

// soBindToIfindex is SO_BINDTOIFINDEX (Linux 5.0), the same number on
// every architecture Go supports; package syscall predates it.
const soBindToIfindex = 62

// refuseNewConnections binds a TCP listening socket to an interface index
// that no interface has. Linux then matches no new SYN to it and refuses
// the dial, while the connections already in its accept queue stay there
// to be accepted: a connection's own binding is taken when its SYN
// arrives, not from the listener it is accepted from. It needs no
// privilege, as binding an unbound socket needs none since Linux 5.7. It
// reports false for any other listener, or if the kernel refuses.
//
// A socket in an SO_REUSEPORT group is left alone: Linux keeps it in the
// group, and the SYNs hashed to it are dropped, not refused, so their
// dials stall until the client resends.
func refuseNewConnections(ln net.Listener) bool {
	return onListenerSocket(ln, func(fd int) error {
		if reuse, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, soReusePort); err != nil || reuse != 0 {
			return errors.Join(err, errReusePort)
		}
		return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, soBindToIfindex, math.MaxInt32)
	})
}

// allowNewConnections undoes refuseNewConnections before the socket is
// closed: the binding belongs to the socket, not to this descriptor, and
// another process may hold the socket too (systemd, for the next start).
func allowNewConnections(ln net.Listener) {
	onListenerSocket(ln, func(fd int) error { // nothing else to do if it fails
		return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, soBindToIfindex, 0)
	})
}

var errReusePort = errors.New("troupe: listener in an SO_REUSEPORT group, or one that cannot tell")

// onListenerSocket calls f with the socket of a TCP listener, and reports
// whether ln is one and f succeeded.
func onListenerSocket(ln net.Listener, f func(fd int) error) bool {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return false
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return false
	}
	var ferr error
	err = rc.Control(func(fd uintptr) { ferr = f(int(fd)) })
	return err == nil && ferr == nil
}
