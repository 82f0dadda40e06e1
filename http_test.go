package troupe_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"slices"
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
		io.WriteString(w, "too late") // a cut request gets no response, even this
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
	cert, err := newSelfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	return cert
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

// The contract at the drain deadline: a cut request gets no response, even
// when its handler writes one as soon as its context is cancelled, and the
// handler sees the shutdown's cause, also through a BaseContext of the
// caller's. Repeated, because both were races.
func TestHTTPDrainDeadlineCutsRequestsExactly(t *testing.T) {
	for i := range 20 {
		type key struct{}
		entered := make(chan struct{})
		causes := make(chan error, 1)
		srv := &http.Server{
			BaseContext: func(net.Listener) context.Context { return context.WithValue(context.Background(), key{}, i) },
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(entered)
				<-r.Context().Done()
				causes <- context.Cause(r.Context())
				io.WriteString(w, "too late")
			}),
		}
		ln := listen(t)
		var g troupe.Group
		g.Add(troupe.HTTPServer(srv, troupe.Listener(ln), troupe.DrainTimeout(5*time.Millisecond))).Name("http")
		boom := errors.New("boom")
		fire, ran := runUntilFired(&g, boom)
		client := newClient()
		got := make(chan error, 1)
		go func() {
			resp, err := client.Get("http://" + ln.Addr().String() + "/")
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				err = fmt.Errorf("got %d %q", resp.StatusCode, body)
			} else {
				err = nil
			}
			got <- err
		}()
		<-entered
		close(fire)
		if err := <-ran; !errors.Is(err, troupe.ErrDrainTimeout) {
			t.Fatalf("run %d: Run() = %v, want the drain timeout", i, err)
		}
		if cause := <-causes; !errors.Is(cause, boom) {
			t.Errorf("run %d: the handler's context was cancelled with %v, want the shutdown's cause", i, cause)
		}
		if err := <-got; err != nil {
			t.Errorf("run %d: a cut request got a response: %v", i, err)
		}
		client.CloseIdleConnections()
	}
}

// An admin endpoint may call srv.Shutdown itself. Serve then returns at
// once, but execute must still wait for the requests in flight: nothing of
// the server may run after Run has returned.
func TestHTTPServerShutDownByOthersStillDrainsBeforeExecuteReturns(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "done")
	})}
	ln := listen(t)
	addr := ln.Addr().String()
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()

	client := newClient()
	defer client.CloseIdleConnections()
	got := fetch(client, "http://"+addr+"/")
	<-entered
	shutdown := make(chan error, 1)
	go func() { shutdown <- srv.Shutdown(context.Background()) }()
	untilRefused(t, addr)
	select {
	case err := <-executed:
		t.Fatalf("execute() = %v while a request was still in flight", err)
	default:
	}
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("the in-flight request got %q, want done", body)
	}
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v, want nil", err)
	}
	if err := <-shutdown; err != nil {
		t.Errorf("the admin's Shutdown = %v", err)
	}
	interrupt(nil) // the group's interrupt still comes, later; it must be harmless
}

func TestHTTPTLSWithACertificateThatCannotBeLoadedClosesTheListener(t *testing.T) {
	ln := listen(t)
	execute, _ := troupe.HTTPServer(&http.Server{}, troupe.Listener(ln), troupe.TLS("no-such-cert.pem", "no-such-key.pem"))
	if err := execute(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("execute() = %v, want the missing certificate", err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener is still open")
	}
}

// closeFails is a listener whose Close fails.
type closeFails struct{ net.Listener }

var errCloseFailed = errors.New("close failed")

func (l closeFails) Close() error { l.Listener.Close(); return errCloseFailed }

func TestHTTPListenerCloseErrorAfterAnInTimeDrainIsItselfNotATimeout(t *testing.T) {
	ln := listen(t)
	var g troupe.Group
	g.Add(troupe.HTTPServer(&http.Server{}, troupe.Listener(closeFails{ln}))).Name("http")
	fire, ran := runUntilFired(&g, nil)
	untilServing(t, ln.Addr().String())
	close(fire)
	err := <-ran
	if !errors.Is(err, errCloseFailed) || errors.Is(err, troupe.ErrDrainTimeout) {
		t.Fatalf("Run() = %v, want the close error and no drain timeout", err)
	}
	if names := actorNames(err); !slices.Equal(names, []string{"http"}) {
		t.Errorf("named actors %v, want [http]", names)
	}
}

// A panic in the BeforeStop hook runs in the adapter's own goroutine; it
// becomes the actor's error, and the drain still goes on.
func TestHTTPBeforeStopPanicIsAnErrorAndTheDrainGoesOn(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "done")
	})}
	ln := listen(t)
	var g troupe.Group
	g.Add(troupe.HTTPServer(srv, troupe.Listener(ln), troupe.BeforeStop(func() { panic("hook broke") }))).Name("http")
	fire, ran := runUntilFired(&g, nil)
	client := newClient()
	defer client.CloseIdleConnections()
	got := fetch(client, "http://"+ln.Addr().String()+"/")
	<-entered
	close(fire)
	untilRefused(t, ln.Addr().String())
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("the in-flight request got %q, want done", body)
	}
	err := <-ran
	var pe *troupe.PanicError
	if !errors.As(err, &pe) || pe.Value != "hook broke" {
		t.Fatalf("Run() = %v, want the hook's panic", err)
	}
	if names := actorNames(err); !slices.Equal(names, []string{"http"}) {
		t.Errorf("named actors %v, want [http]", names)
	}
}

// A Listener given to a group that Run refuses is closed: nothing serves
// on it, and nothing holds it.
func TestHTTPListenerIsClosedWhenRunRefusesTheGroup(t *testing.T) {
	ln := listen(t)
	var g troupe.Group
	g.Add(troupe.HTTPServer(&http.Server{}, troupe.Listener(ln))).Name("http")
	g.Add(nil, nil)
	if err := g.Run(); !errors.Is(err, troupe.ErrInvalid) {
		t.Fatalf("Run() = %v, want ErrInvalid", err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener is still open")
	}
}
