package troupe_test

// Helpers the Linux drain tests share. Only on Linux does the drain settle
// (refuse new dials while it serves the connections it took), so only there
// do tests speak HTTP/1.1 by hand on connections made around the stop, and
// wait on the server's ConnState to know where a connection stands.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// okHandler answers every request "ok", the body askOnConn and the tests'
// readAnswer checks look for.
func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
}

// dialRaw connects to addr for a test that writes requests and reads
// answers by hand, and closes the connection when the test ends. Its
// deadline is a safety net only, so that a server that never answers fails
// the test instead of hanging it; no test waits for it.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(time.Minute)) // a safety net only
	return c
}

// readAnswer reads one response on r and gives its body and whether it
// said Connection: close.
func readAnswer(r *bufio.Reader) (body string, closing bool, err error) {
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", false, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", false, fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), resp.Close, nil
}

// askOnConn sends one GET on c and reports whether it got a full 200.
func askOnConn(c net.Conn, host string) bool {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute)) // a safety net only
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host); err != nil {
		return false
	}
	body, _, err := readAnswer(bufio.NewReader(c))
	return err == nil && body == "ok"
}

// connStateSeen gives a ConnState hook that reports each time a connection
// enters state, so that a test waits for the server to have accepted a
// connection, or to hold it idle, instead of sleeping. It never blocks the
// server: reports beyond 64 unread are dropped.
func connStateSeen(state http.ConnState) (func(net.Conn, http.ConnState), <-chan struct{}) {
	seen := make(chan struct{}, 64)
	return func(_ net.Conn, s http.ConnState) {
		if s == state {
			select {
			case seen <- struct{}{}:
			default:
			}
		}
	}, seen
}

// getAndDiscard GETs url and reads its answer through, for requests that
// are there only as load, or to show that the server serves, whose answers
// the test does not check.
func getAndDiscard(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}

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
