package troupe

import (
	"fmt"
	"net"
	"sync"
)

// SystemdSockets takes the listening sockets that systemd passed to the
// process (socket activation, sd_listen_fds(3)) and returns them by the
// names of LISTEN_FDNAMES, "unknown" for each when it is unset. Call it
// once, early in main. When LISTEN_PID is this process's, it unsets
// LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, also when it fails, so that a
// second call finds nothing rather than fds opened since, and no process
// this one starts sees them.
//
// A process that was not activated (no LISTEN_PID or LISTEN_FDS, or a
// LISTEN_PID naming another process, whose variables it leaves alone)
// gets empty Sockets and a nil error, as does every platform but Unix;
// [Sockets.Listen] then listens on the address given.
//
// SystemdSockets returns an error, and no Sockets, when the variables are
// malformed or LISTEN_FDNAMES does not name each fd, having taken no fd;
// and at the first fd that is not a listening stream socket (a datagram
// socket, a connected one from Accept=yes, one that does not listen: on
// Linux it asks the socket, as sd_is_socket does), naming it. Serving some of the sockets and not the others
// would hide the mistake until a client met the missing one, so it then
// closes the sockets it took, the bad one included. It leaves alone a fd
// that is not a socket at all, and the fds after the bad one: the process,
// not systemd, may have opened them. The listeners are close-on-exec, so
// a process this one starts does not inherit them.
func SystemdSockets() (*Sockets, error) {
	listeners, err := systemdListeners()
	if err != nil {
		return nil, err
	}
	return &Sockets{listeners: listeners}, nil
}

// Sockets holds the sockets that [SystemdSockets] took, by name, until
// [Sockets.Listen] hands them out. A nil or zero Sockets holds none, as
// for a process that was not activated. It is safe for concurrent use.
//
// The sockets never asked for stay open until the process exits; systemd
// keeps its own copies of them anyway.
type Sockets struct {
	mu        sync.Mutex
	listeners map[string][]net.Listener // in fd order; empty once all are handed out
}

// Listen returns the next activated listener named name, each once, in
// the order systemd passed them; network and address are then unused.
// When the process has no socket of that name, because it was not
// activated or systemd named its sockets otherwise, Listen returns
// net.Listen(network, address), so that the same main runs under systemd
// and without it.
//
// A name whose listeners have all been handed out is an error, not a
// net.Listen: the activated socket holds the port, so the fallback would
// fail, or listen somewhere no client expects.
func (s *Sockets) Listen(name, network, address string) (net.Listener, error) {
	if s != nil {
		s.mu.Lock()
		lns, ok := s.listeners[name]
		if ok && len(lns) > 0 {
			s.listeners[name] = lns[1:]
		}
		s.mu.Unlock()
		switch {
		case ok && len(lns) > 0:
			return lns[0], nil
		case ok:
			return nil, fmt.Errorf("troupe: listen on systemd socket %q: every one has been handed out already", name)
		}
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("troupe: listen on %s: %w", address, err)
	}
	return ln, nil
}
