//go:build linux

package troupe_test

// Where the Linux drain (httpquiet.go's settle) must not apply, or must
// undo what it did: a socket shared with another process, and a server
// that may speak HTTP/2.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// A socket another process holds too (systemd's socket activation, which
// SystemdSockets serves; or a supervisor that hands the socket to the next
// process) must still take connections once this process has drained: that
// is the point of holding it, so that connections wait in the kernel's
// queue across a restart instead of being refused. The drain binds the
// socket itself, not this process's fd, to a non-existent interface, so
// it must bind it back once it has closed its fd.
func TestADrainedSocketSharedWithAnotherProcessTakesConnectionsAfterward(t *testing.T) {
	ln, held := sharedListener(t)
	addr := ln.Addr().String()
	execute, interrupt := troupe.HTTPServer(&http.Server{Handler: okHandler()}, troupe.Listener(ln))
	executed := serveOn(execute)
	untilServing(t, addr)
	interrupt(nil)
	if err := <-executed; err != nil {
		t.Fatalf("execute() = %v", err)
	}
	// This process has let go of the socket; its holder keeps it listening
	// for the next one, so a dial is queued, and the next server accepts it.
	takesConnections(t, addr, held)
}

// The same through the library's own socket activation, as systemd runs
// it: systemd keeps the socket, the service drains on SIGTERM and exits,
// and systemd starts the next one on the same socket, which must be
// served. systemd runs most services as an unprivileged user, without
// CAP_NET_RAW: Linux lets such a process bind an unbound socket to an
// interface, but not change or undo that binding, so the drain must leave
// systemd's socket alone rather than leave it refusing every later start.
// The unprivileged service runs in a user namespace of its own, which has
// no CAP_NET_RAW over the network it uses.
func TestTheNextStartOnSystemdsSocketIsServedAfterADrain(t *testing.T) {
	for _, unprivileged := range []bool{false, true} {
		t.Run(fmt.Sprintf("unprivileged=%v", unprivileged), func(t *testing.T) {
			ln, f := tcpListener(t)
			defer ln.Close() // systemd's own copy, held across the restart
			defer f.Close()
			addr := ln.Addr().String()
			client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
			defer client.CloseIdleConnections()

			for run := range 2 {
				cmd := activatedCmd(t, "activation-serve", []*os.File{f}, "LISTEN_FDS=1", "LISTEN_FDNAMES=http")
				if unprivileged {
					cmd.SysProcAttr = &syscall.SysProcAttr{
						Cloneflags:  syscall.CLONE_NEWUSER,
						UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
						GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
					}
				}
				c := startCmd(t, cmd)
				c.await("serving on " + addr)
				if err := getAndDiscard(client, "http://"+addr+"/"); err != nil {
					t.Fatalf("run %d of the service on systemd's socket: GET: %v", run+1, err)
				}
				c.signal(syscall.SIGTERM)
				if want, have := 0, c.wait(); want != have {
					t.Fatalf("run %d: exit status: want %d, have %d; stderr:\n%s", run+1, want, have, c.stderr.String())
				}
			}
		})
	}
}

// HTTP/2 clients hear of the stop only from Shutdown's GOAWAY. Were the
// settle to come first, one HTTP/1 request that runs to the deadline (a
// long poll, a stream) would hold it until DrainTimeout, while HTTP/2
// clients kept sending new requests, to be cut at the deadline. So a
// server that may speak HTTP/2 goes to Shutdown at once: no HTTP/2 request
// is taken after the stop began, and none is dropped, whether the listener
// would allow the settle or not.
func TestHTTP2ClientsHearOfTheStopAtOnceAndLoseNoRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(net.Listener) net.Listener
	}{
		{"a TCP listener", func(ln net.Listener) net.Listener { return ln }},
		{"a wrapped listener", func(ln net.Listener) net.Listener { return struct{ net.Listener }{ln} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const (
				drainTimeout  = 500 * time.Millisecond
				work          = 10 * time.Millisecond // each HTTP/2 request's
				loops         = 4
				perLoopAtMost = 5_000
			)
			serverTLS, clientTLS := selfSignedTLS(t)
			var stopped atomic.Bool // the drain has begun
			var takenAfterStop atomic.Int64
			holding := make(chan struct{})
			mux := http.NewServeMux()
			mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
				close(holding)
				<-r.Context().Done() // a long poll: answers when told to stop
			})
			mux.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
				if stopped.Load() {
					takenAfterStop.Add(1)
				}
				t := time.NewTimer(work) // simulated work
				defer t.Stop()
				select {
				case <-t.C:
				case <-r.Context().Done():
				}
				io.WriteString(w, "ok")
			})
			srv := &http.Server{TLSConfig: serverTLS, Handler: mux, ErrorLog: log.New(io.Discard, "", 0)}
			ln := listen(t)
			addr := ln.Addr().String()
			execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(tc.wrap(ln)), troupe.TLS("", ""), troupe.DrainTimeout(drainTimeout))
			executed := serveOn(execute)

			h2 := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: clientTLS, ForceAttemptHTTP2: true}}
			defer h2.CloseIdleConnections()
			h1 := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: clientTLS.Clone(),
				TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
			defer h1.CloseIdleConnections()
			if body := <-fetch(h2, "https://"+addr+"/work"); body != "ok" {
				t.Fatalf("HTTP/2 warm-up: %q", body)
			}
			held := fetch(h1, "https://"+addr+"/hold")
			<-holding

			var dropped atomic.Int64
			var firstDrop atomic.Value
			start := make(chan struct{})
			var wg sync.WaitGroup
			for range loops {
				wg.Go(func() {
					<-start
					for range perLoopAtMost {
						var reused bool
						trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
						req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "https://"+addr+"/work", nil)
						resp, err := h2.Do(req)
						if err != nil {
							if errors.Is(err, syscall.ECONNREFUSED) {
								return // sent elsewhere: not lost
							}
							dropped.Add(1)
							firstDrop.CompareAndSwap(nil, fmt.Sprintf("reused %v: %v", reused, err))
							return
						}
						body, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if err != nil || string(body) != "ok" {
							dropped.Add(1)
							firstDrop.CompareAndSwap(nil, fmt.Sprintf("reused %v: body %q: %v", reused, body, err))
							return
						}
					}
				})
			}
			stopped.Store(true)
			interrupt(nil)
			untilRefused(t, addr)
			close(start)
			wg.Wait()
			<-held // cut at the deadline, as it must be
			err := <-executed
			t.Logf("execute() = %v; HTTP/2 requests taken after the stop began: %d; dropped: %d", err, takenAfterStop.Load(), dropped.Load())
			if dropped.Load() != 0 {
				t.Errorf("%d HTTP/2 requests sent on an established connection after the stop began were taken and then dropped; first: %v",
					dropped.Load(), firstDrop.Load())
			}
		})
	}
}

// Other code's srv.Shutdown or srv.Close during the settle (which the
// adapter supports, see TestShutdownByOthersDuringTheSettle) closes the
// listener while the drain has it bound to no interface. The socket,
// which systemd holds too, must still take connections for the next
// process afterwards.
//
// Serve is held in a ConnState hook, so that the accept queue is not
// empty and the settle is still listening when the listener closes: no
// timing.
func TestSharedSocketTakesConnectionsAfterOthersStopTheServerDuringTheSettle(t *testing.T) {
	for _, tc := range []struct {
		name string
		// stop begins other code's stop, and returns once it has closed
		// the listener, with a channel for the stop's end.
		stop func(t *testing.T, srv *http.Server, ln net.Listener) <-chan error
	}{
		{"Shutdown", func(t *testing.T, srv *http.Server, ln net.Listener) <-chan error {
			began := make(chan struct{})
			var once sync.Once
			srv.RegisterOnShutdown(func() { once.Do(func() { close(began) }) }) // once the listeners are closed
			ended := make(chan error, 1)
			go func() { ended <- srv.Shutdown(context.Background()) }()
			<-began
			return ended
		}},
		{"Close", func(t *testing.T, srv *http.Server, ln net.Listener) <-chan error {
			ended := make(chan error, 1)
			go func() { ended <- srv.Close() }() // it waits for Serve, which waits in the hook
			rc, err := ln.(*net.TCPListener).SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, "srv.Close closes the listener", func() bool { return rc.Control(func(uintptr) {}) != nil })
			return ended
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
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
			stopped := tc.stop(t, srv, ln)
			close(unblock)
			a.Close() // neither sends a request: nothing to wait for
			b.Close()
			if err := <-executed; err != nil {
				t.Errorf("execute() = %v", err)
			}
			<-stopped
			takesConnections(t, addr, held)
		})
	}
}
