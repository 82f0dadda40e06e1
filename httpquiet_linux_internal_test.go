//go:build linux

package troupe

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// The socket trick the Linux drain rests on: once a listener refuses new
// connections, a dial is refused at once, while the connections already
// queued stay there, are accepted and work.
func TestRefuseNewConnectionsKeepsTheAcceptQueue(t *testing.T) {
	const queued = 5
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	var clients []net.Conn
	for range queued {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	if n, known := acceptQueueLen(ln); !known || n != queued {
		t.Errorf("acceptQueueLen() = %d, %v; want %d, true", n, known, queued)
	}
	if _, ok := refuseNewConnections(ln, false); !ok {
		t.Fatal("refuseNewConnections() = false on a TCP listener")
	}
	if c, err := net.DialTimeout("tcp", addr, 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("a new dial: %v, want it refused", err)
	}
	for range queued {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range clients {
		c.SetReadDeadline(time.Now().Add(time.Minute)) // a safety net only
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Errorf("queued connection %d: %v", i, err)
		}
	}
	if n, known := acceptQueueLen(ln); !known || n != 0 {
		t.Errorf("acceptQueueLen() = %d, %v once accepted; want 0, true", n, known)
	}
}

// Only a TCP listener can refuse new connections; any other falls back.
func TestRefuseNewConnectionsFallsBackForOtherListeners(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, ok := refuseNewConnections(struct{ net.Listener }{ln}, false); ok {
		t.Error("refuseNewConnections() = true for a wrapped listener")
	}
	if _, known := acceptQueueLen(struct{ net.Listener }{ln}); known {
		t.Error("acceptQueueLen() known for a wrapped listener")
	}
}

// A socket that was bound to an interface before the drain is bound back
// to it, not to none, once this process lets go of it: another process
// that holds it (systemd, with BindToDevice=) gets it as it was.
func TestReleaseBindsASharedSocketBackToItsInterface(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skip("no loopback interface:", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !onListenerSocket(ln, func(fd int) error { return rebind(fd, lo.Index) }) {
		t.Skip("cannot bind the socket to lo here")
	}
	release, ok := refuseNewConnections(ln, true)
	if !ok {
		t.Fatal("refuseNewConnections() = false on a TCP listener bound to lo")
	}
	// The release runs after the listener's Close; here the listener stays
	// open, as another process's descriptor would keep the socket.
	release()
	var now int
	onListenerSocket(ln, func(fd int) (err error) {
		now, err = syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, soBindToIfindex)
		return err
	})
	if now != lo.Index {
		t.Errorf("bound to interface %d after the release, want lo's %d", now, lo.Index)
	}
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatalf("a dial after the release: %v", err)
	}
	c.Close()
}
