//go:build unix

package troupe

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// listenFDsStart is the first fd systemd passes, after stdin, stdout and
// stderr.
const listenFDsStart = 3

func systemdListeners() (map[string][]net.Listener, error) {
	pidText := os.Getenv("LISTEN_PID")
	if pidText == "" {
		return nil, nil
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid < 1 {
		return nil, fmt.Errorf("troupe: systemd sockets: LISTEN_PID %q is not a process id", pidText)
	}
	if pid != os.Getpid() {
		return nil, nil // meant for another process: neither the fds nor the variables are ours
	}
	countText, namesText := os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	// Unset before anything can fail. A second call would otherwise take
	// fds 3 and up again, which by then are whatever the process opened
	// since; and a process started after this one exits might be given
	// its pid, inherit the variables through an orphaned child, and take
	// fds that are not sockets.
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(v)
	}
	if countText == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(countText)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("troupe: systemd sockets: LISTEN_FDS %q is not a positive number", countText)
	}
	var names []string // none: each is "unknown", as systemd names them
	if namesText != "" {
		if names = strings.Split(namesText, ":"); len(names) != n {
			return nil, fmt.Errorf("troupe: systemd sockets: LISTEN_FDNAMES %q has %d names for LISTEN_FDS=%d", namesText, len(names), n)
		}
	}
	listeners := make(map[string][]net.Listener)
	for i := range n {
		name := "unknown"
		if names != nil {
			name = names[i]
		}
		ln, err := takeListener(listenFDsStart+i, name)
		if err != nil {
			for _, lns := range listeners {
				for _, ln := range lns {
					ln.Close()
				}
			}
			return nil, err
		}
		listeners[name] = append(listeners[name], ln)
	}
	return listeners, nil
}

// takeListener makes fd a listener, and closes fd: the listener has a
// duplicate of its own.
func takeListener(fd int, name string) (net.Listener, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("troupe: systemd socket %q (fd %d): %w", name, fd, err)
	}
	// A fd that is not a socket was not passed by systemd, whatever
	// LISTEN_FDS says: it may be one the runtime opened for itself, so it
	// must not become an *os.File, which closes it when collected.
	if st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return nil, fmt.Errorf("troupe: systemd socket %q (fd %d) is not a socket", name, fd)
	}
	// So that a process another goroutine starts meanwhile does not
	// inherit it; the listener's duplicate is close-on-exec already.
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), name)
	if !listeningStream(fd) {
		// net.FileListener takes a datagram socket, a connected one
		// (Accept=yes) or one that does not listen, each failing only at
		// its first Accept.
		f.Close()
		return nil, fmt.Errorf("troupe: systemd socket %q (fd %d) is not a listening stream socket", name, fd)
	}
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("troupe: systemd socket %q (fd %d) is not a listening stream socket: %w", name, fd, err)
	}
	return ln, nil
}
