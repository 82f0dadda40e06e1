package troupe_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// A listener the adapter cannot make refuse new connections (here one
// wrapped in a type of the caller's; on other systems, any) drains as a
// plain Shutdown does: the request in flight is answered, and execute
// returns once it is.
func TestHTTPWrappedListenerStillDrains(t *testing.T) {
	held, entered, release := heldHandler()
	srv := &http.Server{Handler: held}
	ln := listen(t)
	addr := ln.Addr().String()
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(struct{ net.Listener }{ln}))
	executed := serveOn(execute)
	got := fetchInFlight(t, "http://"+addr+"/", entered)
	interrupt(nil)
	untilRefused(t, addr)
	select {
	case err := <-executed:
		t.Fatalf("execute() = %v before the request in flight was answered", err)
	default:
	}
	close(release)
	if body := <-got; body != "ok" {
		t.Errorf("the request in flight got %q", body)
	}
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
}

// HTTP/2 has no Connection: close: the drain does not wait for an HTTP/2
// connection to close, which it never would before the deadline, and
// leaves it to Shutdown's GOAWAY.
func TestHTTP2IdleConnectionDoesNotHoldTheDrain(t *testing.T) {
	serverTLS, clientTLS := selfSignedTLS(t)
	srv := &http.Server{TLSConfig: serverTLS}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS, ForceAttemptHTTP2: true}}
	idleHTTP2DoesNotHoldTheDrain(t, srv, client, "https", troupe.TLS("", ""))
}

// idleHTTP2DoesNotHoldTheDrain serves srv, which answers each request with
// its protocol, leaves client's HTTP/2 connection to it idle, and stops it:
// the drain must end well before its deadline. The HTTP/2 idle tests, over
// TLS and without, differ only in srv, client and the scheme.
func idleHTTP2DoesNotHoldTheDrain(t *testing.T, srv *http.Server, client *http.Client, scheme string, opts ...troupe.ServerOption) {
	const drainTimeout = time.Minute
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) })
	addr, interrupt, executed := startHTTP(t, srv, append(opts, troupe.DrainTimeout(drainTimeout))...)
	defer client.CloseIdleConnections()
	if body := <-fetch(client, scheme+"://"+addr+"/"); body != "HTTP/2.0" {
		t.Fatalf("got %q, want an HTTP/2 answer", body)
	}
	began := time.Now()
	interrupt(nil)
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
	if d := time.Since(began); d > drainTimeout/2 {
		t.Errorf("the drain took %v with an idle HTTP/2 connection open", d)
	}
}

// h2cProtocols gives the Protocols of a server that speaks HTTP/1 and
// HTTP/2 without TLS, and of a client that speaks HTTP/2 to it by prior
// knowledge.
func h2cProtocols() (server, client *http.Protocols) {
	server, client = new(http.Protocols), new(http.Protocols)
	server.SetHTTP1(true)
	server.SetUnencryptedHTTP2(true)
	client.SetUnencryptedHTTP2(true)
	return server, client
}

// Over HTTP/2 without TLS, whose connections net/http's HTTP/2 server
// reports idle between streams as HTTP/1's are, the drain waits for each
// HTTP/2 connection to close: every request in flight at the stop, over
// HTTP/2 and over HTTP/1 on the same server, gets its whole answer, larger
// than the socket buffers hold and read slowly, before execute returns.
func TestH2CDrainAnswersEveryRequestInFlightWhole(t *testing.T) {
	const overHTTP2, overHTTP1, size = 16, 8, 1 << 20
	const inFlight = overHTTP2 + overHTTP1
	entered, release := make(chan struct{}, inFlight), make(chan struct{})
	answer := strings.Repeat("x", size)
	serverProtocols, clientProtocols := h2cProtocols()
	srv := &http.Server{Protocols: serverProtocols, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, answer)
	})}
	addr, interrupt, executed := startHTTP(t, srv, troupe.DrainTimeout(time.Minute))
	h2 := &http.Client{Transport: &http.Transport{Protocols: clientProtocols}, Timeout: time.Minute}
	defer h2.CloseIdleConnections()
	h1 := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: overHTTP1}, Timeout: time.Minute}
	defer h1.CloseIdleConnections()
	answered := make(chan error, inFlight)
	get := func(client *http.Client, proto int) {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			answered <- err
			return
		}
		defer resp.Body.Close()
		got, buf := 0, make([]byte, 64<<10)
		for {
			n, err := resp.Body.Read(buf)
			got += n
			if err == io.EOF {
				break
			}
			if err != nil {
				answered <- fmt.Errorf("HTTP/%d after %d bytes: %w", proto, got, err)
				return
			}
			time.Sleep(100 * time.Microsecond) // a slow reader
		}
		if resp.ProtoMajor != proto || got != size {
			answered <- fmt.Errorf("%s answer of %d bytes", resp.Proto, got)
			return
		}
		answered <- nil
	}
	for range overHTTP2 {
		go get(h2, 2)
	}
	for range overHTTP1 {
		go get(h1, 1)
	}
	for range inFlight {
		<-entered
	}
	interrupt(nil)
	select {
	case err := <-executed:
		t.Fatalf("execute() = %v while its handlers still ran", err)
	default:
	}
	close(release)
	for range inFlight {
		if err := <-answered; err != nil {
			t.Error(err)
		}
	}
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
}

// An idle HTTP/2 connection without TLS does not hold the drain: the
// server closes it once Shutdown's GOAWAY is out.
func TestH2CIdleConnectionDoesNotHoldTheDrain(t *testing.T) {
	serverProtocols, clientProtocols := h2cProtocols()
	srv := &http.Server{Protocols: serverProtocols}
	client := &http.Client{Transport: &http.Transport{Protocols: clientProtocols}, Timeout: time.Minute}
	idleHTTP2DoesNotHoldTheDrain(t, srv, client, "http")
}
