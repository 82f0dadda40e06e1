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
//
// A socket that another process may hold too (shared: systemd's, for the
// next start) must take connections again once this process has closed
// it, and the binding belongs to the socket, not to this descriptor. For
// one, it keeps a descriptor of its own, taken with the binding, so that
// no Close (other code's Shutdown) can come between them; release, called
// after this process's Close, binds that back to the interface the socket
// was bound to before and closes it. Undone before the Close, the socket
// would take dials until Serve's Accept had woken to it, and reset them
// if no other process held it. Only a dial in the instant between
// release's two calls can still be reset. A shared socket is left alone
// if this process could not bind it back: Linux lets a process without
// CAP_NET_RAW bind an unbound socket, but not change that binding again.
func refuseNewConnections(ln net.Listener, shared bool) (release func(), ok bool) {
	kept, boundTo := -1, 0
	ok = onListenerSocket(ln, func(fd int) error {
		if reuse, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, soReusePort); err != nil || reuse != 0 {
			return errors.Join(err, errReusePort)
		}
		if shared {
			if !canRebind() {
				return errCannotRebind
			}
			var err error
			if boundTo, err = syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, soBindToIfindex); err != nil {
				return err
			}
			dup, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
			if errno != 0 {
				return errno
			}
			kept = int(dup)
		}
		return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, soBindToIfindex, math.MaxInt32)
	})
	if !ok {
		if kept >= 0 {
			syscall.Close(kept)
		}
		return nil, false
	}
	return func() {
		if kept >= 0 {
			rebind(kept, boundTo) // nothing else to do if it fails
			syscall.Close(kept)
		}
	}, true
}

// canRebind reports whether this process may change a socket's binding to
// an interface once made, which needs CAP_NET_RAW: it tries on a socket of
// its own.
func canRebind() bool {
	s, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(s)
	return syscall.SetsockoptInt(s, syscall.SOL_SOCKET, soBindToIfindex, math.MaxInt32) == nil &&
		syscall.SetsockoptInt(s, syscall.SOL_SOCKET, soBindToIfindex, 0) == nil
}

// rebind undoes refuseNewConnections on a socket, binding it back to the
// interface it was bound to, 0 for none.
func rebind(fd, boundTo int) error {
	return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, soBindToIfindex, boundTo)
}

var errCannotRebind = errors.New("troupe: no privilege to bind a shared socket back to its interface")

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
