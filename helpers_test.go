package troupe_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if scenario := os.Getenv(childEnv); scenario != "" {
		os.Exit(runChild(scenario))
	}
	goleak.VerifyTestMain(m)
}

// probe is an actor whose execute blocks until its interrupt is called (or
// it is told to return on its own), recording every interrupt call.
type probe struct {
	stop     chan struct{}
	stopOnce sync.Once
	ret      error // what execute returns once stopped
	calls    atomic.Int32
	cause    atomic.Value // error passed to the first interrupt
	returned chan struct{}
}

func newProbe(ret error) *probe {
	return &probe{stop: make(chan struct{}), returned: make(chan struct{}), ret: ret}
}

func (p *probe) execute() error {
	defer close(p.returned)
	<-p.stop
	return p.ret
}

func (p *probe) interrupt(cause error) {
	if p.calls.Add(1) == 1 && cause != nil {
		p.cause.Store(cause)
	}
	p.release()
}

// release makes execute return without an interrupt.
func (p *probe) release() { p.stopOnce.Do(func() { close(p.stop) }) }

func (p *probe) gotCause() error {
	err, _ := p.cause.Load().(error)
	return err
}

// stubborn is an actor that ignores its interrupt until the test lets it go.
type stubborn struct {
	letGo       chan struct{}
	interrupted chan struct{}
	once        sync.Once
	calls       atomic.Int32
}

func newStubborn() *stubborn {
	return &stubborn{letGo: make(chan struct{}), interrupted: make(chan struct{})}
}

func (s *stubborn) execute() error { <-s.letGo; return nil }

func (s *stubborn) interrupt(error) {
	s.calls.Add(1)
	s.once.Do(func() { close(s.interrupted) })
}

func returnsNow(err error) (func() error, func(error)) {
	return func() error { return err }, func(error) {}
}

// actorNames walks an error tree and lists the ActorError names in it.
func actorNames(err error) []string {
	var names []string
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if ae, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range ae.Unwrap() {
				walk(e)
			}
			return
		}
		var ae *troupe.ActorError
		if errors.As(err, &ae) {
			names = append(names, ae.Actor)
		}
	}
	walk(err)
	return names
}

// eventually polls cond until it holds, for what cannot be waited on
// directly (a listener's state, a subprocess's output). The bound is only a
// safety net for a slow machine.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within a minute: %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling, bounded above
	}
}

// capture is a slog handler that keeps every record, safe for concurrent use.
type capture struct {
	mu      sync.Mutex
	records []slog.Record
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r.Clone())
	return nil
}
func (c *capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *capture) WithGroup(string) slog.Handler      { return c }

// events lists "message actor=name" for each record, in order.
func (c *capture) events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.records {
		var b bytes.Buffer
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "actor" {
				b.WriteString(" actor=" + a.Value.String())
			}
			return true
		})
		out = append(out, b.String())
	}
	return out
}

// level gives the level of the first record with msg and actor=name.
func (c *capture) level(msg, name string) (slog.Level, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.records {
		found := false
		r.Attrs(func(a slog.Attr) bool {
			found = found || (a.Key == "actor" && a.Value.String() == name)
			return !found
		})
		if r.Message == msg && found {
			return r.Level, true
		}
	}
	return 0, false
}

// fetch GETs url on its own goroutine and gives the body, or the error's
// text.
func fetch(client *http.Client, url string) <-chan string {
	got := make(chan string, 1)
	go func() {
		resp, err := client.Get(url)
		if err != nil {
			got <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(body)
	}()
	return got
}

// find gives the attributes, as strings, of the first record with msg.
func (c *capture) find(msg string) (map[string]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.records {
		if r.Message != msg {
			continue
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		return attrs, true
	}
	return nil, false
}

// serveOn starts execute on its own goroutine and gives its result, so that
// a test can act on a server while its execute runs and then wait for it.
func serveOn(execute func() error) <-chan error {
	executed := make(chan error, 1)
	go func() { executed <- execute() }()
	return executed
}

// startHTTP starts the HTTPServer adapter's execute for srv on a fresh
// 127.0.0.1:0 listener (with opts besides), and gives the address to dial,
// the adapter's interrupt, and execute's result. It is the setup the HTTP
// drain tests share, so that each shows only its server and what it does to
// it; a test that needs the listener itself builds its own.
func startHTTP(t *testing.T, srv *http.Server, opts ...troupe.ServerOption) (addr string, interrupt func(error), executed <-chan error) {
	t.Helper()
	ln := listen(t)
	execute, interrupt := troupe.HTTPServer(srv, append([]troupe.ServerOption{troupe.Listener(ln)}, opts...)...)
	return ln.Addr().String(), interrupt, serveOn(execute)
}

// ownPort makes srv listen on a port of loopback that the adapter opens
// itself, as it does for a server given no Listener, and gives a function
// that waits for the address until the server serves. A socket given with
// Listener may be shared with another process, and is bound back to take
// connections as it closes, which a dial can race: tests that go on
// dialing through the drain use the adapter's own socket.
func ownPort(srv *http.Server) (serving func() string) {
	srv.Addr = "127.0.0.1:0"
	got := make(chan string, 1)
	userBase := srv.BaseContext
	srv.BaseContext = func(ln net.Listener) context.Context {
		got <- ln.Addr().String()
		if userBase != nil {
			return userBase(ln)
		}
		return context.Background()
	}
	return sync.OnceValue(func() string { return <-got })
}

// selfSignedTLS gives a server's TLS configuration, with a fresh
// self-signed certificate, and a client's that trusts that certificate:
// what every HTTPS test needs before it can say what it tests.
func selfSignedTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	cert := selfSigned(t)
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: pool}
}

// heldHandler gives a handler for one request, which it holds in flight: it
// closes entered once the request has reached it, and answers "ok" only once
// the test closes release. The drain tests use it for a request in flight
// at the stop, held for as long as the test needs, with no timing.
func heldHandler() (handler http.HandlerFunc, entered <-chan struct{}, release chan<- struct{}) {
	in, out := make(chan struct{}), make(chan struct{})
	return func(w http.ResponseWriter, r *http.Request) {
		close(in)
		<-out
		io.WriteString(w, "ok")
	}, in, out
}

// fetchInFlight GETs url, as fetch does, on a client of its own, and
// returns once the handler has the request (has closed entered): a request
// in flight, for the test to stop the server under. The client's idle
// connections are closed when the test ends.
func fetchInFlight(t *testing.T, url string, entered <-chan struct{}) (got <-chan string) {
	client := newClient()
	t.Cleanup(client.CloseIdleConnections)
	got = fetch(client, url)
	<-entered
	return got
}

// runAsync runs g and gives Run's result.
func runAsync(g *troupe.Group) <-chan error {
	done := make(chan error, 1)
	go func() { done <- g.Run() }()
	return done
}
