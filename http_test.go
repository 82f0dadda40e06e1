package troupe_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// untilRefused waits until a new connection to addr is refused.
func untilRefused(t *testing.T, addr string) {
	t.Helper()
	eventually(t, addr+" refuses connections", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
}

// trigger is an actor that returns (err) when its channel is closed, to
// begin a shutdown at a moment the test chooses.
func trigger(err error) (chan struct{}, func() error, func(error)) {
	fire := make(chan struct{})
	stop := make(chan struct{})
	var once sync.Once
	return fire, func() error {
			select {
			case <-fire:
				return err
			case <-stop:
				return nil
			}
		}, func(error) {
			once.Do(func() { close(stop) })
		}
}

// runUntilFired adds a trigger actor named "trigger" that returns err when
// fire is closed, and runs the group; ran gives Run's result.
func runUntilFired(g *troupe.Group, err error) (fire chan struct{}, ran <-chan error) {
	fire, execute, interrupt := trigger(err)
	g.Add(execute, interrupt).Name("trigger")
	result := make(chan error, 1)
	go func() { result <- g.Run() }()
	return fire, result
}

func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}
}

func TestHTTPDrainsInFlightRequestsBeforeExecuteReturns(t *testing.T) {
	const inFlight = 50
	entered := make(chan struct{}, inFlight)
	release := make(chan struct{})
	var completed atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, "done")
		completed.Add(1)
	})}
	ln := listen(t)
	addr := ln.Addr().String()

	var g troupe.Group
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln))
	executeReturned := make(chan int32, 1)
	g.Add(func() error {
		err := execute()
		executeReturned <- completed.Load()
		return err
	}, interrupt).Name("http")
	fire, ran := runUntilFired(&g, nil)

	client := newClient()
	defer client.CloseIdleConnections()
	type outcome struct {
		status int
		body   string
		err    error
	}
	outcomes := make(chan outcome, inFlight)
	for range inFlight {
		go func() {
			resp, err := client.Get("http://" + addr + "/")
			if err != nil {
				outcomes <- outcome{err: err}
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			outcomes <- outcome{resp.StatusCode, string(body), err}
		}()
	}
	for range inFlight {
		<-entered
	}
	close(fire)
	untilRefused(t, addr)
	select {
	case <-executeReturned:
		t.Fatal("execute returned while requests were still in flight")
	default:
	}
	close(release)
	for range inFlight {
		o := <-outcomes
		if o.err != nil || o.status != http.StatusOK || o.body != "done" {
			t.Errorf("request: status %d body %q err %v, want 200 done", o.status, o.body, o.err)
		}
	}
	if err := <-ran; err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if want, have := int32(inFlight), <-executeReturned; want != have {
		t.Errorf("execute returned with %d of %d handlers done", have, want)
	}
}

func TestHTTPUnderLoadDropsNoAcceptedRequest(t *testing.T) {
	const clients, maxRequests, loadFor = 48, 20_000, 3 * time.Second
	var handled, finished atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		time.Sleep(time.Duration(5+handled.Load()%45) * time.Millisecond) // simulated work
		io.WriteString(w, "ok")
		finished.Add(1)
	})}
	ln := listen(t)
	addr := ln.Addr().String()

	var g troupe.Group
	g.Add(troupe.HTTPServer(srv, troupe.Listener(ln))).Name("http")
	fire, ran := runUntilFired(&g, nil)

	var sent, ok, refused, reset, other atomic.Int64
	var firstOther atomic.Value
	client := newClient()
	defer client.CloseIdleConnections()
	stopLoad := time.Now().Add(loadFor)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stopLoad) && sent.Add(1) <= maxRequests {
				resp, err := client.Get("http://" + addr + "/")
				if err == nil {
					body, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					if rerr == nil && resp.StatusCode == http.StatusOK && string(body) == "ok" {
						ok.Add(1)
						continue
					}
					err = fmt.Errorf("status %d body %q: %v", resp.StatusCode, body, rerr)
				}
				switch {
				case errors.Is(err, syscall.ECONNREFUSED):
					refused.Add(1)
					return // the server is gone; this client is done
				case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF):
					reset.Add(1)
				default:
					other.Add(1)
					firstOther.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	// Interrupt mid-load, once a good number of requests have been served.
	for ok.Load() < 500 && time.Now().Before(stopLoad) {
		time.Sleep(time.Millisecond) // polling a counter, bounded above
	}
	shutdownAt := time.Now()
	inFlightAtShutdown := handled.Load() - finished.Load()
	close(fire)
	if err := <-ran; err != nil {
		t.Fatalf("Run() = %v", err)
	}
	drain := time.Since(shutdownAt)
	wg.Wait()

	t.Logf("load: sent %d, completed 200 %d, refused %d, reset before acceptance %d, other %d; in flight at shutdown %d; drain %v",
		sent.Load(), ok.Load(), refused.Load(), reset.Load(), other.Load(), inFlightAtShutdown, drain)
	if handled.Load() != ok.Load() {
		t.Errorf("the server accepted %d requests but clients got %d full 200s: %d dropped in flight",
			handled.Load(), ok.Load(), handled.Load()-ok.Load())
	}
	if other.Load() != 0 {
		t.Errorf("%d requests failed other than by refusal or reset; first: %v", other.Load(), firstOther.Load())
	}
	if inFlightAtShutdown == 0 {
		t.Error("no request was in flight at the shutdown: the test did not test a drain")
	}
}

func TestHTTPDrainDeadlineCancelsRequestsThenCloses(t *testing.T) {
	entered := make(chan struct{})
	causes := make(chan error, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // a handler that only stops when cancelled
		causes <- context.Cause(r.Context())
	})}
	ln := listen(t)
	g := troupe.Group{ShutdownTimeout: time.Minute}
	g.Add(troupe.HTTPServer(srv, troupe.Listener(ln), troupe.DrainTimeout(100*time.Millisecond))).Name("http")
	boom := errors.New("boom")
	fire, ran := runUntilFired(&g, boom)

	client := newClient()
	defer client.CloseIdleConnections()
	got := make(chan error, 1)
	go func() {
		resp, err := client.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			resp.Body.Close()
		}
		got <- err
	}()
	<-entered
	close(fire)
	err := <-ran
	var ae *troupe.ActorError
	if !errors.Is(err, troupe.ErrDrainTimeout) || !errors.As(err, &ae) {
		t.Fatalf("Run() = %v, want the drain timeout", err)
	}
	if errors.Is(err, troupe.ErrShutdownTimeout) {
		t.Errorf("Run() = %v: the group's deadline passed, so execute did not return after the drain's", err)
	}
	if names := actorNames(err); len(names) != 2 || names[0] != "trigger" || names[1] != "http" {
		t.Errorf("named actors %v, want [trigger http]", names)
	}
	if cause := <-causes; !errors.Is(cause, boom) {
		t.Errorf("the handler's context was cancelled with %v, want the shutdown's cause", cause)
	}
	if err := <-got; err == nil {
		t.Error("the client got a response from a handler that was cut off")
	}
}

func TestHTTPListenErrorNamesTheAddress(t *testing.T) {
	taken := listen(t)
	defer taken.Close()
	execute, _ := troupe.HTTPServer(&http.Server{Addr: taken.Addr().String()})
	err := execute()
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("execute() = %v, want address in use", err)
	}
	if want := "troupe: http server cannot listen on " + taken.Addr().String(); len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("message %q does not start with %q", err, want)
	}
}

func TestHTTPInterruptBeforeServeIsSafe(t *testing.T) {
	ln := listen(t)
	execute, interrupt := troupe.HTTPServer(&http.Server{}, troupe.Listener(ln))
	interrupt(nil)
	if err := execute(); err != nil {
		t.Fatalf("execute() = %v, want nil", err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener is still open")
	}
}

func TestHTTPServesTLS(t *testing.T) {
	cert := selfSigned(t)
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secure") }),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	}
	ln := listen(t)
	var g troupe.Group
	g.Add(troupe.HTTPServer(srv, troupe.Listener(ln), troupe.TLS("", ""))).Name("https")
	fire, ran := runUntilFired(&g, nil)

	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "secure" || resp.TLS == nil {
		t.Errorf("body %q over TLS %v, want secure over TLS", body, resp.TLS != nil)
	}
	close(fire)
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
}

func TestHTTPKeepsTheCallersBaseContext(t *testing.T) {
	type key struct{}
	srv := &http.Server{
		BaseContext: func(net.Listener) context.Context { return context.WithValue(context.Background(), key{}, "mine") },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, _ := r.Context().Value(key{}).(string)
			io.WriteString(w, v)
		}),
	}
	ln := listen(t)
	var g troupe.Group
	g.Add(troupe.HTTPServer(srv, troupe.Listener(ln))).Name("http")
	fire, ran := runUntilFired(&g, nil)
	client := newClient()
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "mine" {
		t.Errorf("handler saw %q, want the caller's base context value", body)
	}
	close(fire)
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestHTTPServerShutDownByOthersReturnsNil(t *testing.T) {
	srv := &http.Server{}
	ln := listen(t)
	execute, _ := troupe.HTTPServer(srv, troupe.Listener(ln))
	done := make(chan error, 1)
	go func() { done <- execute() }()
	untilServing(t, ln.Addr().String())
	srv.Close()
	if err := <-done; err != nil {
		t.Fatalf("execute() = %v, want nil after someone else closed the server", err)
	}
}

func TestHTTPServeErrorNamesTheAddress(t *testing.T) {
	ln := listen(t)
	execute, _ := troupe.HTTPServer(&http.Server{}, troupe.Listener(ln))
	done := make(chan error, 1)
	go func() { done <- execute() }()
	untilServing(t, ln.Addr().String())
	ln.Close() // not through the server: Serve fails
	err := <-done
	if want := "troupe: http server on " + ln.Addr().String(); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("execute() = %v, want an error starting %q", err, want)
	}
}

// untilServing waits until an HTTP request to addr gets a response, which
// only a running Serve gives.
func untilServing(t *testing.T, addr string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	eventually(t, addr+" serves requests", func() bool {
		resp, err := client.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}
