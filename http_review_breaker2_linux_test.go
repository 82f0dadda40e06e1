//go:build linux

package troupe_test

// A second review of the Linux drain after 2cbcf03: the socket shared with
// another process, and requestBegun's reading of net/http's steps.

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
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

// Over TLS net/http's background read goes through the *tls.Conn, which
// reads whole records from the connection the adapter wraps, never one
// byte; a next request whose first record, read before the connection went
// idle, holds four bytes or more is still seen to have begun (net/http
// sets its second read deadline at once), and is waited for and served.
// One whose first record holds fewer is not: the README says so.
func TestHTTPSWithoutHTTP2ServesANextRequestThatBeganBeforeTheConnectionWentIdle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		early string // written as soon as the first answer is in, in a record of its own
	}{
		{"its first four bytes", "GET "},
		{"its request line", "GET / HTTP/1.1\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serverTLS, clientTLS := selfSignedTLS(t)
			hook, idle := connStateSeen(http.StateIdle)
			first := make(chan struct{}, 1)
			var p http.Protocols
			p.SetHTTP1(true)
			srv := &http.Server{TLSConfig: serverTLS, Protocols: &p, ConnState: hook, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "2")
				io.WriteString(w, "ok")
				w.(http.Flusher).Flush()
				select {
				case <-first:
					time.Sleep(100 * time.Millisecond) // simulated work after answering
				default:
				}
			})}
			addr, interrupt, executed := startHTTP(t, srv, troupe.TLS("", ""), troupe.DrainTimeout(10*time.Second))
			c, err := tls.Dial("tcp", addr, clientTLS)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Minute)) // a safety net only
			answers := bufio.NewReader(c)
			first <- struct{}{}
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
			if body, closing, err := readAnswer(answers); err != nil || body != "ok" || closing {
				t.Fatalf("before the stop: %q, Connection: close %v, %v", body, closing, err)
			}
			io.WriteString(c, tc.early)
			<-idle
			interrupt(nil)
			untilRefused(t, addr)
			time.Sleep(300 * time.Millisecond) // a slow client, past the 100ms idle grace
			io.WriteString(c, "GET / HTTP/1.1\r\n"[len(tc.early):]+"Host: "+addr+"\r\n\r\n")
			body, closing, err := readAnswer(answers)
			if err != nil || body != "ok" || !closing {
				t.Errorf("the request begun before the stop got %q, Connection: close %v, %v", body, closing, err)
			}
			if err := <-executed; err != nil {
				t.Errorf("execute() = %v", err)
			}
		})
	}
}

// drainTime interrupts the server and gives how long execute took to
// return after it.
func drainTime(t *testing.T, interrupt func(error), executed <-chan error) time.Duration {
	t.Helper()
	began := time.Now()
	interrupt(nil)
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
	return time.Since(began)
}

// heldTooLong is a drain's time that means a kept-alive connection with
// nothing on its way was taken for one whose next request had begun, and
// waited for up to 5s, instead of being left to Shutdown after the 100ms
// idle grace.
const heldTooLong = 2 * time.Second

// A kept-alive connection whose client has nothing more to send must not
// hold the drain, whatever its last request was: requestBegun must not
// take what net/http read for that request, or how, for the next one.
func TestAnIdleKeptAliveConnectionDoesNotHoldTheDrainWhateverItsLastRequest(t *testing.T) {
	bigHeader := func(n int) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("X-Pad", strings.Repeat("a", n)) }
	}
	for _, tc := range []struct {
		name    string
		method  string
		body    func() io.Reader // nil: none
		chunked bool
		prepare func(*http.Request)
		server  func(*http.Server)
		handler func(w http.ResponseWriter, r *http.Request)
		tls     bool
	}{
		{name: "GET"},
		{name: "POST whose body the handler reads", method: "POST", body: func() io.Reader { return strings.NewReader("hello") },
			handler: func(w http.ResponseWriter, r *http.Request) { io.ReadAll(r.Body); io.WriteString(w, "ok") }},
		{name: "POST whose body the handler does not read", method: "POST", body: func() io.Reader { return strings.NewReader(strings.Repeat("b", 100_000)) }},
		{name: "chunked POST whose body the handler reads", method: "POST", chunked: true, body: func() io.Reader { return strings.NewReader(strings.Repeat("c", 10_000)) },
			handler: func(w http.ResponseWriter, r *http.Request) { io.ReadAll(r.Body); io.WriteString(w, "ok") }},
		{name: "chunked POST whose body the handler does not read", method: "POST", chunked: true, body: func() io.Reader { return strings.NewReader(strings.Repeat("c", 10_000)) }},
		{name: "POST with Expect: 100-continue", method: "POST", body: func() io.Reader { return strings.NewReader(strings.Repeat("e", 5000)) },
			prepare: func(r *http.Request) { r.Header.Set("Expect", "100-continue") },
			handler: func(w http.ResponseWriter, r *http.Request) { io.ReadAll(r.Body); io.WriteString(w, "ok") }},
		{name: "server with every timeout set", server: func(s *http.Server) {
			s.ReadTimeout, s.ReadHeaderTimeout, s.WriteTimeout, s.IdleTimeout = time.Minute, time.Minute, time.Minute, time.Minute
		}},
		{name: "header of 4095 bytes", prepare: bigHeader(4095 - 80)},
		{name: "header of 4096 bytes", prepare: bigHeader(4096 - 80)},
		{name: "header of 8190 bytes", prepare: bigHeader(8190 - 80)},
		{name: "handler flushing its answer, then working", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "2")
			io.WriteString(w, "ok")
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond) // simulated work after answering
		}},
		{name: "full-duplex handler not reading the body", method: "POST", body: func() io.Reader { return strings.NewReader("hello") },
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.NewResponseController(w).EnableFullDuplex()
				io.WriteString(w, "ok")
			}},
		{name: "TLS GET", tls: true},
		{name: "TLS POST whose body the handler reads", tls: true, method: "POST", body: func() io.Reader { return strings.NewReader("hello") },
			handler: func(w http.ResponseWriter, r *http.Request) { io.ReadAll(r.Body); io.WriteString(w, "ok") }},
		{name: "TLS handler flushing its answer, then working", tls: true, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "2")
			io.WriteString(w, "ok")
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hook, idle := connStateSeen(http.StateIdle)
			h := tc.handler
			if h == nil {
				h = okHandler().ServeHTTP
			}
			srv := &http.Server{Handler: http.HandlerFunc(h), ConnState: hook, ErrorLog: log.New(io.Discard, "", 0)}
			if tc.server != nil {
				tc.server(srv)
			}
			transport := &http.Transport{ExpectContinueTimeout: 5 * time.Second}
			scheme := "http"
			opts := []troupe.ServerOption{troupe.DrainTimeout(10 * time.Second)}
			if tc.tls {
				serverTLS, clientTLS := selfSignedTLS(t)
				var p http.Protocols
				p.SetHTTP1(true)
				srv.TLSConfig, srv.Protocols = serverTLS, &p
				transport.TLSClientConfig = clientTLS
				scheme = "https"
				opts = append(opts, troupe.TLS("", ""))
			}
			addr, interrupt, executed := startHTTP(t, srv, opts...)
			client := &http.Client{Transport: transport, Timeout: time.Minute}
			defer client.CloseIdleConnections()
			method := tc.method
			if method == "" {
				method = "GET"
			}
			var body io.Reader
			if tc.body != nil {
				body = tc.body()
				if tc.chunked {
					body = struct{ io.Reader }{body} // no length known: chunked
				}
			}
			req, err := http.NewRequest(method, scheme+"://"+addr+"/", body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.prepare != nil {
				tc.prepare(req)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(got) != "ok" || resp.Close {
				t.Fatalf("before the stop: %q, Connection: close %v, %v", got, resp.Close, err)
			}
			<-idle
			if took := drainTime(t, interrupt, executed); took > heldTooLong {
				t.Errorf("the drain took %v with one idle kept-alive connection whose client sends nothing", took)
			}
		})
	}
}

// An old client sends CRLF after a POST body, which net/http tolerates
// ahead of the next request (RFC 7230, 3.5). It is no request: the
// connection, which its client keeps idle in a pool, must not hold the
// drain for seconds.
func TestTheCRLFAnOldClientSendsAfterAPOSTBodyDoesNotHoldTheDrain(t *testing.T) {
	hook, idle := connStateSeen(http.StateIdle)
	bodyRead, crlfSent := make(chan struct{}), make(chan struct{})
	srv := &http.Server{ConnState: hook, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		close(bodyRead)
		<-crlfSent
		io.WriteString(w, "ok")
	})}
	addr, interrupt, executed := startHTTP(t, srv, troupe.DrainTimeout(10*time.Second))
	c := dialRaw(t, addr)
	answers := bufio.NewReader(c)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: "+addr+"\r\nContent-Length: 5\r\n\r\nhello")
	<-bodyRead
	io.WriteString(c, "\r\n")
	close(crlfSent)
	if body, closing, err := readAnswer(answers); err != nil || body != "ok" || closing {
		t.Fatalf("before the stop: %q, Connection: close %v, %v", body, closing, err)
	}
	<-idle
	if took := drainTime(t, interrupt, executed); took > heldTooLong {
		t.Errorf("the drain took %v with one idle kept-alive connection whose client sent CRLF after its POST body", took)
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(entries)
}

// Many drains leave no descriptor open: not the listening socket, nor the
// copy the drain keeps of a socket given with Listener to bind it back,
// whether the settle runs, is skipped, or the server is shut down by
// others during it.
func TestManyDrainsLeaveNoDescriptorOpen(t *testing.T) {
	const drains = 20
	for _, tc := range []struct {
		name  string
		serve func(t *testing.T, srv *http.Server) (addr string, interrupt func(error), executed <-chan error, scheme string, client *http.Client)
	}{
		{"the adapter's own socket", func(t *testing.T, srv *http.Server) (string, func(error), <-chan error, string, *http.Client) {
			serving := ownPort(srv)
			execute, interrupt := troupe.HTTPServer(srv)
			executed := serveOn(execute)
			return serving(), interrupt, executed, "http", newClient()
		}},
		{"a Listener", func(t *testing.T, srv *http.Server) (string, func(error), <-chan error, string, *http.Client) {
			addr, interrupt, executed := startHTTP(t, srv)
			return addr, interrupt, executed, "http", newClient()
		}},
		{"a Listener shared with another process", func(t *testing.T, srv *http.Server) (string, func(error), <-chan error, string, *http.Client) {
			ln, held := sharedListener(t)
			held.Close()
			execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln))
			return ln.Addr().String(), interrupt, serveOn(execute), "http", newClient()
		}},
		{"a TLS server that may speak HTTP/2: no settle", func(t *testing.T, srv *http.Server) (string, func(error), <-chan error, string, *http.Client) {
			serverTLS, clientTLS := selfSignedTLS(t)
			srv.TLSConfig = serverTLS
			addr, interrupt, executed := startHTTP(t, srv, troupe.TLS("", ""))
			return addr, interrupt, executed, "https", &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: clientTLS, ForceAttemptHTTP2: true}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func() {
				srv := &http.Server{Handler: okHandler(), ErrorLog: log.New(io.Discard, "", 0)}
				addr, interrupt, executed, scheme, client := tc.serve(t, srv)
				untilServingWith(t, client, scheme+"://"+addr+"/")
				client.CloseIdleConnections() // the drain need not wait out an idle connection
				interrupt(nil)
				if err := <-executed; err != nil {
					t.Errorf("execute() = %v", err)
				}
			}
			run() // warms up what stays open for the process's life
			before := openFDs(t)
			for range drains {
				run()
			}
			var after int
			for range 500 { // bounded: the clients' sockets close as their reads end
				if after = openFDs(t); after <= before {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Errorf("%d descriptors open before %d drains, %d after", before, drains, after)
		})
	}
}

// untilServingWith waits until client gets an answer from url.
func untilServingWith(t *testing.T, client *http.Client, url string) {
	t.Helper()
	eventually(t, url+" serves requests", func() bool { return getAndDiscard(client, url) == nil })
}
