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
// gives the interface the socket was bound to before, 0 for none, and
// reports false for any other listener, or if the kernel refuses.
//
// A socket in an SO_REUSEPORT group is left alone: Linux keeps it in the
// group, and the SYNs hashed to it are dropped, not refused, so their
// dials stall until the client resends.
func refuseNewConnections(ln net.Listener) (boundTo int, ok bool) {
	ok = onListenerSocket(ln, func(fd int) error {
		if reuse, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, soReusePort); err != nil || reuse != 0 {
			return errors.Join(err, errReusePort)
		}
		var err error
		if boundTo, err = syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, soBindToIfindex); err != nil {
			return err
		}
		return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, soBindToIfindex, math.MaxInt32)
	})
	return boundTo, ok
}

// shareAfterClose readies a listener's socket, which another process may
// hold too (systemd, for the next start), to take connections again once
// this process has closed it: refuseNewConnections binds the socket, not
// this descriptor. It keeps a descriptor of its own so that release can
// undo the binding after the listener's Close: undone before, the socket
// would take dials until Serve's Accept had woken to the Close, and a
// socket that no other process holds would then reset them as it closed.
// Only a dial in the instant between release's two calls can still be.
func shareAfterClose(ln net.Listener, boundTo int) (release func()) {
	kept := -1
	onListenerSocket(ln, func(fd int) error {
		dup, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
		if errno != 0 {
			return errno
		}
		kept = int(dup)
		return nil
	})
	if kept < 0 {
		// No descriptor to spare: undo it now, racing the Close.
		onListenerSocket(ln, func(fd int) error { return rebind(fd, boundTo) })
		return func() {}
	}
	return func() {
		rebind(kept, boundTo) // nothing else to do if it fails
		syscall.Close(kept)
	}
}

// rebind undoes refuseNewConnections on a socket, binding it back to the
// interface it was bound to, 0 for none.
func rebind(fd, boundTo int) error {
	return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, soBindToIfindex, boundTo)
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
