//go:build linux

package troupe_test

// Kept-alive connections idle at the stop: requestBegun must not take
// what net/http read for the last request for a next one, and many drains
// leave no descriptor open.

import (
	"bufio"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

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
