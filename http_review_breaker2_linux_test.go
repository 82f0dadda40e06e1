//go:build linux

package troupe_test

// A second review of the Linux drain after 2cbcf03: the socket shared with
// another process, and requestBegun's reading of net/http's steps.

import (
	"context"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// sharedListener gives a listener on 127.0.0.1 for the adapter and the
// same socket as another process would hold it (systemd, for the next
// start), which the test keeps open.
func sharedListener(t *testing.T) (ln, held net.Listener) {
	t.Helper()
	ln = listen(t)
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if held, err = net.FileListener(f); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
	return ln, held
}

// takesConnections fails the test unless a dial to addr is queued on the
// socket the other process holds, and accepted there.
func takesConnections(t *testing.T, addr string, held net.Listener) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("a dial to the socket another process still holds, after this one drained: %v; want it queued for the next server", err)
	}
	defer c.Close()
	held.(*net.TCPListener).SetDeadline(time.Now().Add(time.Minute)) // a safety net only
	a, err := held.Accept()
	if err != nil {
		t.Fatalf("the holder's Accept: %v", err)
	}
	a.Close()
}

// Other code's srv.Shutdown during the settle (which the adapter supports,
// see TestShutdownByOthersDuringTheSettle) closes the listener while the
// drain has it bound to no interface. The socket, which systemd holds
// too, must still take connections for the next process afterwards.
//
// Serve is held in a ConnState hook, so that the accept queue is not
// empty and the settle is still listening when Shutdown closes the
// socket: no timing.
func TestSharedSocketTakesConnectionsAfterShutdownByOthersDuringTheSettle(t *testing.T) {
	ln, held := sharedListener(t)
	addr := ln.Addr().String()
	inHook, unblock := make(chan struct{}), make(chan struct{})
	var blocking = make(chan bool, 1)
	blocking <- false
	srv := &http.Server{Handler: okHandler(), ConnState: func(_ net.Conn, s http.ConnState) {
		if s != http.StateNew {
			return
		}
		b := <-blocking
		blocking <- false
		if b {
			close(inHook)
			<-unblock // Serve's accept loop waits here
		}
	}}
	shutdownBegan := make(chan struct{})
	var once sync.Once
	srv.RegisterOnShutdown(func() { once.Do(func() { close(shutdownBegan) }) }) // once the listeners are closed
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln), troupe.DrainTimeout(10*time.Second))
	executed := serveOn(execute)
	untilServing(t, addr)

	<-blocking
	blocking <- true
	a := dialRaw(t, addr) // Serve takes it, and waits in the hook
	<-inHook
	b := dialRaw(t, addr) // queued behind it: the settle keeps listening
	interrupt(nil)
	untilRefused(t, addr)
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	<-shutdownBegan
	close(unblock)
	a.Close() // neither sends a request: nothing to wait for
	b.Close()
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
	<-shut
	takesConnections(t, addr, held)
}

// The same through a plain srv.Close by other code.
func TestSharedSocketTakesConnectionsAfterCloseByOthersDuringTheSettle(t *testing.T) {
	ln, held := sharedListener(t)
	addr := ln.Addr().String()
	inHook, unblock := make(chan struct{}), make(chan struct{})
	var blocking = make(chan bool, 1)
	blocking <- false
	srv := &http.Server{Handler: okHandler(), ConnState: func(_ net.Conn, s http.ConnState) {
		if s != http.StateNew {
			return
		}
		b := <-blocking
		blocking <- false
		if b {
			close(inHook)
			<-unblock
		}
	}}
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln), troupe.DrainTimeout(10*time.Second))
	executed := serveOn(execute)
	untilServing(t, addr)

	<-blocking
	blocking <- true
	a := dialRaw(t, addr)
	<-inHook
	b := dialRaw(t, addr)
	interrupt(nil)
	untilRefused(t, addr)
	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }() // it waits for Serve, which waits in the hook
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "srv.Close closes the listener", func() bool { return rc.Control(func(uintptr) {}) != nil })
	close(unblock)
	a.Close()
	b.Close()
	<-closed
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
	takesConnections(t, addr, held)
}

// systemd runs most services as an unprivileged user, without
// CAP_NET_RAW. Linux lets such a process bind an unbound socket to an
// interface, which the drain does, but not change or undo that binding:
// the drain cannot bind systemd's socket back, and every later start of
// the service would find it refusing every dial. The service here runs in
// a user namespace of its own, which has no CAP_NET_RAW over the network
// it uses, as an unprivileged service has none.
func TestTheNextStartOnSystemdsSocketIsServedAfterAnUnprivilegedServiceDrained(t *testing.T) {
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		t.Skip("no user namespaces:", err)
	}
	ln, f := tcpListener(t)
	defer ln.Close() // systemd's own copy, held across the restart
	defer f.Close()
	addr := ln.Addr().String()
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()

	for run := range 2 {
		cmd := activatedCmd(t, "activation-serve", []*os.File{f}, "LISTEN_FDS=1", "LISTEN_FDNAMES=http")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		}
		c := startCmd(t, cmd)
		c.await("serving on " + addr)
		if err := getAndDiscard(client, "http://"+addr+"/"); err != nil {
			t.Fatalf("run %d of the unprivileged service on systemd's socket: GET: %v", run+1, err)
		}
		c.signal(syscall.SIGTERM)
		if want, have := 0, c.wait(); want != have {
			t.Fatalf("run %d: exit status: want %d, have %d; stderr:\n%s", run+1, want, have, c.stderr.String())
		}
	}
}
