package troupe_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// A listener the adapter cannot make refuse new connections (here one
// wrapped in a type of the caller's; on other systems, any) drains as a
// plain Shutdown does: the request in flight is answered, and execute
// returns once it is.
func TestHTTPWrappedListenerStillDrains(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "ok")
	})}
	ln := listen(t)
	addr := ln.Addr().String()
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(struct{ net.Listener }{ln}))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()
	client := newClient()
	defer client.CloseIdleConnections()
	got := fetch(client, "http://"+addr+"/")
	<-entered
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
	const drainTimeout = time.Minute
	cert := selfSigned(t)
	srv := &http.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) }),
	}
	ln := listen(t)
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln), troupe.TLS("", ""), troupe.DrainTimeout(drainTimeout))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	if body := <-fetch(client, "https://"+ln.Addr().String()+"/"); body != "HTTP/2.0" {
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
