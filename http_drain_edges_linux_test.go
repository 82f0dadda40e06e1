//go:build linux

package troupe_test

// Edges of the Linux drain (httpquiet.go's settle) it gets right, kept
// as regression tests.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// A client that sends its request header a piece at a time on a new
// connection, across the stop, is waited for and served.
func TestDrainServesAHeaderTrickledAcrossTheStopOnANewConnection(t *testing.T) {
	hook, seen := connStateSeen(http.StateNew)
	addr, interrupt, executed := startHTTP(t, &http.Server{Handler: okHandler(), ConnState: hook})
	c := dialRaw(t, addr)
	<-seen
	io.WriteString(c, "GET / HTTP/1.1\r\n")
	interrupt(nil)
	untilRefused(t, addr)
	io.WriteString(c, "Host: "+addr+"\r\n")
	io.WriteString(c, "\r\n")
	body, closing, err := readAnswer(bufio.NewReader(c))
	if err != nil || body != "ok" || !closing {
		t.Errorf("the trickled request got %q, Connection: close %v, %v", body, closing, err)
	}
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
}

// The next request on a kept-alive connection, its header arriving slowly
// across the drain's idle grace, is waited for and served: net/http
// reports the connection idle until the whole header is in, and Shutdown
// would close it mid-request. Its start may come after the stop, or reach
// net/http before the connection is reported idle: written right behind
// the previous request, it is read with it; written as soon as the answer
// is in, net/http's background read takes its first byte while the
// handler finishes.
func TestDrainServesAKeptAliveRequestTrickledAcrossTheIdleGrace(t *testing.T) {
	const next = "GET / HTTP/1.1\r\n"
	for _, tc := range []struct {
		name      string
		behind    string        // of next, sent in the same write as the first request
		early     string        // of next, sent as soon as the first answer is in
		afterStop string        // of next, sent once the drain refuses new dials
		afterward time.Duration // the handler's work once its answer is out
		overTLS   bool          // HTTPS, HTTP/2 switched off; each write a record of its own
	}{
		{"begun after the stop", "", "", next, 0, false},
		{"written behind the previous request", next, "", "", 0, false},
		{"a byte as the answer arrives, the handler working on", "", "G", "", 100 * time.Millisecond, false},
		{"a byte as the answer arrives, the handler returning", "", "G", "", 0, false},
		// Over TLS net/http's background read goes through the *tls.Conn,
		// which reads whole records, never one byte: a first record of
		// four bytes or more is still seen (net/http sets its second read
		// deadline at once); one of fewer is not, as the README says.
		{"over TLS, begun after the stop", "", "", next, 0, true},
		{"over TLS, four bytes as the answer arrives", "", "GET ", "", 100 * time.Millisecond, true},
		{"over TLS, the request line as the answer arrives", "", next, "", 100 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hook, idle := connStateSeen(http.StateIdle)
			first := make(chan struct{}, 1)
			srv := &http.Server{ConnState: hook, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "2")
				io.WriteString(w, "ok")
				w.(http.Flusher).Flush()
				select {
				case <-first:
					time.Sleep(tc.afterward) // simulated work after answering
				default:
				}
			})}
			opts := []troupe.ServerOption{troupe.DrainTimeout(10 * time.Second)}
			var clientTLS *tls.Config
			if tc.overTLS {
				srv.TLSConfig, clientTLS = selfSignedTLS(t)
				srv.Protocols = new(http.Protocols)
				srv.Protocols.SetHTTP1(true)
				opts = append(opts, troupe.TLS("", ""))
			}
			addr, interrupt, executed := startHTTP(t, srv, opts...)
			var c net.Conn = dialRaw(t, addr)
			if tc.overTLS {
				clientTLS.ServerName = "127.0.0.1"
				c = tls.Client(c, clientTLS)
			}
			answers := bufio.NewReader(c)
			first <- struct{}{}
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"+tc.behind)
			if body, closing, err := readAnswer(answers); err != nil || body != "ok" || closing {
				t.Fatalf("before the stop: %q, Connection: close %v, %v", body, closing, err)
			}
			io.WriteString(c, tc.early)
			<-idle
			interrupt(nil)
			untilRefusedPromptly(t, addr)
			io.WriteString(c, tc.afterStop)
			time.Sleep(300 * time.Millisecond) // a slow client, past the 100ms idle grace
			io.WriteString(c, next[len(tc.behind)+len(tc.early)+len(tc.afterStop):]+"Host: "+addr+"\r\n\r\n")
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

// untilRefusedPromptly waits until a dial to addr is refused, for a test
// that must write within the drain's idle grace of the stop. A dial whose
// SYN the kernel dropped as the listener changed would wait out a
// second's retransmission, which untilRefused counts as a refusal, by
// which time the grace has passed; here such a dial is given up on at
// once and made again, until one is refused.
func untilRefusedPromptly(t *testing.T, addr string) {
	t.Helper()
	eventually(t, addr+" refuses connections", func() bool {
		c, err := net.DialTimeout("tcp", addr, 10*time.Millisecond)
		if err == nil {
			c.Close()
			return false
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	})
}

// A kept-alive connection whose next request header never completes holds
// the drain no longer than its DrainTimeout: the connection is closed, and
// the drain ends clean, as no handler ran.
func TestDrainEndsAtItsTimeoutWithAHeaderThatNeverCompletes(t *testing.T) {
	hook, idle := connStateSeen(http.StateIdle)
	addr, interrupt, executed := startHTTP(t, &http.Server{Handler: okHandler(), ConnState: hook}, troupe.DrainTimeout(300*time.Millisecond))
	c := dialRaw(t, addr)
	answers := bufio.NewReader(c)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
	if body, _, err := readAnswer(answers); err != nil || body != "ok" {
		t.Fatalf("before the stop: %q, %v", body, err)
	}
	<-idle
	interrupt(nil)
	untilRefused(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\n")
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
	if _, err := answers.ReadByte(); err == nil {
		t.Error("the connection with half a header got an answer")
	}
}

// An IPv6 listener settles as an IPv4 one does: dials are refused, and
// the connections made before the stop are served.
func TestDrainOnIPv6Loopback(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	hook, seen := connStateSeen(http.StateNew)
	addr := ln.Addr().String()
	execute, interrupt := troupe.HTTPServer(&http.Server{Handler: okHandler(), ConnState: hook}, troupe.Listener(ln))
	executed := serveOn(execute)
	first := dialRaw(t, addr)
	<-seen
	second := dialRaw(t, addr)
	interrupt(nil)
	untilRefused(t, addr)
	for i, c := range []net.Conn{first, second} {
		if !askOnConn(c, addr) {
			t.Errorf("IPv6 connection %d, made before the stop, was not served after it", i)
		}
	}
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
}

// A DrainTimeout shorter than the settle's 20ms is kept: the request in
// flight is cut at it, and execute still waits for its handler.
func TestDrainTimeoutShorterThanTheSettle(t *testing.T) {
	entered, release, cut := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
		cut <- context.Cause(r.Context())
		<-release // ignores the cut a while
	})}
	addr, interrupt, executed := startHTTP(t, srv, troupe.DrainTimeout(5*time.Millisecond))
	got := fetchInFlight(t, "http://"+addr+"/", entered)
	interrupt(nil)
	if cause := <-cut; !errors.Is(cause, troupe.ErrDrainTimeout) {
		t.Errorf("the handler's cause = %v, want ErrDrainTimeout", cause)
	}
	select {
	case err := <-executed:
		t.Fatalf("execute() = %v while a handler still ran", err)
	default:
	}
	close(release)
	if err := <-executed; !errors.Is(err, troupe.ErrDrainTimeout) {
		t.Errorf("execute() = %v, want ErrDrainTimeout", err)
	}
	if body := <-got; body == "ok" {
		t.Error("the cut request got an answer")
	}
}

// With no request in flight, a DrainTimeout shorter than the settle ends
// the drain clean: an idle kept-alive connection and a silent new one cut
// nothing.
func TestShortDrainTimeoutWithOpenConnectionsIsClean(t *testing.T) {
	hook, seen := connStateSeen(http.StateNew)
	addr, interrupt, executed := startHTTP(t, &http.Server{Handler: okHandler(), ConnState: hook}, troupe.DrainTimeout(2*time.Millisecond))
	client := newClient()
	defer client.CloseIdleConnections()
	if body := <-fetch(client, "http://"+addr+"/"); body != "ok" {
		t.Fatalf("got %q", body)
	}
	<-seen
	dialRaw(t, addr) // silent: nothing is ever sent on it
	<-seen
	interrupt(nil)
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
}

// A streaming response begun before the stop (so without Connection:
// close) is finished after it, whole; the client's next request on the
// kept-alive connection is answered, told to close.
func TestDrainFinishesAStreamBegunBeforeTheStop(t *testing.T) {
	const chunks = 5
	streaming, more := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/", okHandler())
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "0")
		w.(http.Flusher).Flush()
		close(streaming)
		<-more
		for i := 1; i < chunks; i++ {
			fmt.Fprint(w, i)
			w.(http.Flusher).Flush()
		}
	})
	addr, interrupt, executed := startHTTP(t, &http.Server{Handler: mux})
	c := dialRaw(t, addr)
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /stream HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	<-streaming
	interrupt(nil)
	untilRefused(t, addr)
	close(more)
	if body, closing, err := readAnswer(r); err != nil || body != "01234" || closing {
		t.Errorf("the stream: %q, Connection: close %v, %v", body, closing, err)
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	if body, closing, err := readAnswer(r); err != nil || body != "ok" || !closing {
		t.Errorf("the next request on the connection: %q, Connection: close %v, %v", body, closing, err)
	}
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
}

// A handler that hijacked its connection before the stop is told through
// its context once the drain ends, and execute waits for it.
func TestDrainWaitsForAHijackerAndTellsIt(t *testing.T) {
	hijacked, returned := make(chan struct{}), make(chan struct{})
	var handlerDone atomic.Bool
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(returned)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		close(hijacked)
		<-r.Context().Done()
		handlerDone.Store(true)
	})}
	addr, interrupt, executed := startHTTP(t, srv)
	c := dialRaw(t, addr)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	<-hijacked
	interrupt(nil)
	err := <-executed
	if !handlerDone.Load() {
		t.Error("execute returned before the hijacking handler")
	}
	if err != nil {
		t.Errorf("execute() = %v", err)
	}
	<-returned
}

// Other code's srv.Shutdown during the settle changes nothing: the request
// in flight is answered, and execute returns once both are done.
func TestShutdownByOthersDuringTheSettle(t *testing.T) {
	held, entered, release := heldHandler()
	srv := &http.Server{Handler: held}
	addr, interrupt, executed := startHTTP(t, srv)
	got := fetchInFlight(t, "http://"+addr+"/", entered)
	interrupt(nil)
	untilRefused(t, addr)
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	close(release)
	if body := <-got; body != "ok" {
		t.Errorf("the request in flight got %q", body)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
}

// An interrupt that races execute's start, in every order, leaves nothing
// running and no data race.
func TestInterruptRacingExecute(t *testing.T) {
	const rounds = 50
	for range rounds {
		srv := &http.Server{Handler: okHandler(), ErrorLog: log.New(io.Discard, "", 0)}
		_, interrupt, executed := startHTTP(t, srv, troupe.DrainTimeout(time.Minute))
		interrupt(nil)
		if err := <-executed; err != nil {
			t.Fatalf("execute() = %v", err)
		}
	}
}

// No ConnState hook of the caller's runs once execute has returned, under
// load across the stop.
func TestNoConnStateHookAfterExecute(t *testing.T) {
	const rounds, clients = 5, 16
	for range rounds {
		var returned, late atomic.Bool
		srv := &http.Server{Handler: okHandler(), ConnState: func(net.Conn, http.ConnState) {
			if returned.Load() {
				late.Store(true)
			}
		}}
		addr, interrupt, executed := startHTTP(t, srv)
		untilServing(t, addr)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{}}
				defer client.CloseIdleConnections()
				for range 1_000 {
					select {
					case <-stop:
						return
					default:
					}
					if getAndDiscard(client, "http://"+addr+"/") != nil {
						return
					}
				}
			})
		}
		interrupt(nil)
		err := <-executed
		returned.Store(true)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Errorf("execute() = %v", err)
		}
		if late.Load() {
			t.Fatal("a ConnState hook ran after execute returned")
		}
	}
}

// Under a Group with a StopDelay, responses say Connection: close from the
// delay's start, and the drain after it serves the connections made during
// the delay.
func TestStopDelayThenTheDrain(t *testing.T) {
	srv := &http.Server{Handler: okHandler()}
	ln := listen(t)
	addr := ln.Addr().String()
	var g troupe.Group
	g.ShutdownTimeout = time.Minute
	g.StopDelay = 200 * time.Millisecond
	g.Add(troupe.HTTPServer(srv, troupe.Listener(ln))).Name("http")
	ran := make(chan error, 1)
	go func() { ran <- g.Run() }()
	untilServing(t, addr)
	c := dialRaw(t, addr)
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	if _, closing, err := readAnswer(r); err != nil || closing {
		t.Fatalf("before the stop: Connection: close %v, %v", closing, err)
	}
	late := dialRaw(t, addr)
	g.Stop()
	untilRefused(t, addr)
	if !askOnConn(late, addr) {
		t.Error("a connection made before the stop was not served during the drain")
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	if body, closing, err := readAnswer(r); err != nil || body != "ok" || !closing {
		t.Errorf("a kept-alive connection during the drain: %q, Connection: close %v, %v", body, closing, err)
	}
	if err := <-ran; troupe.ExitCode(err) != 0 {
		t.Errorf("Run() = %v", err)
	}
}
