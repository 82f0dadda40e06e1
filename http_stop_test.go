package troupe_test

// How the HTTP adapter stops, under the ways a server is really stopped:
// HTTP/1 and HTTP/2, hijacked connections, cuts at the deadline, other
// code stopping it, plain run.Groups. Most of these were found by trying
// to break the adapter.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oklog/run"
	"github.com/troupe-go/troupe"
	"go.uber.org/goleak"
)

// safetyBound only bounds a wait that a correct adapter would make forever
// (it must not return while a handler runs); it synchronises nothing.
const safetyBound = 15 * time.Second

// wrongReturnWindow is how long a test gives an adapter to return when it
// must not: a slow machine can only make such a test miss the defect, never
// fail a correct adapter.
const wrongReturnWindow = 100 * time.Millisecond

// After the drain deadline the adapter cuts the requests in flight and
// closes the server, but execute must still return only once the server has
// drained: a handler that needs a moment to wind up after its context is
// cancelled (closing a DB row set, say) must have returned by then, or a
// Closer(db).StopAfter("http") closes the DB under it.
func TestHTTPExecuteWaitsForACutHandlerToReturn(t *testing.T) {
	entered, cancelled, release, handlerDone := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		close(entered)
		<-r.Context().Done()
		close(cancelled)
		<-release // winding up after the cancellation
	})}
	ln := listen(t)
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln), troupe.DrainTimeout(50*time.Millisecond))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()

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
	interrupt(errors.New("boom"))
	<-cancelled
	<-got // the connection is closed: the server has been cut and closed
	select {
	case err := <-executed:
		t.Errorf("execute() = %v returned while a cut handler was still running", err)
	case <-time.After(wrongReturnWindow):
	}
	close(release)
	<-handlerDone
	if err := <-executed; !errors.Is(err, troupe.ErrDrainTimeout) {
		t.Errorf("execute() = %v, want the drain timeout", err)
	}
}

// Over HTTP/2 a client may reset a stream (cancel its request) while the
// handler goes on. The HTTP/2 server then counts the stream as closed, and a
// graceful Shutdown returns while the handler still runs; execute must not.
func TestHTTP2ExecuteWaitsForTheHandlerOfAStreamItsClientReset(t *testing.T) {
	cert := selfSigned(t)
	entered, sawCancel, release, handlerDone := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv := &http.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer close(handlerDone)
			if r.ProtoMajor != 2 {
				t.Errorf("request over %s, want HTTP/2", r.Proto)
				return
			}
			close(entered)
			<-r.Context().Done() // the client reset the stream
			close(sawCancel)
			<-release // work that goes on regardless (a write to a DB, say)
		}),
	}
	ln := listen(t)
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln), troupe.TLS("", ""))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()

	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+ln.Addr().String()+"/", nil)
	got := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		got <- err
	}()
	select {
	case <-entered:
	case <-handlerDone:
		t.Fatal("the handler did not get an HTTP/2 request")
	}
	cancel()
	<-sawCancel
	<-got
	interrupt(nil)
	untilRefused(t, ln.Addr().String())
	// Shutdown itself returns about a second after its GOAWAY, while the
	// handler still runs; the window must outlast that.
	select {
	case err := <-executed:
		t.Errorf("execute() = %v returned while a handler was still running", err)
	case <-time.After(2 * time.Second):
	}
	close(release)
	<-handlerDone
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v, want nil", err)
	}
}

// Control for the HTTP/2 test: over HTTP/1.1 a handler whose client went
// away still holds Shutdown, so execute waits for it.
func TestHTTPExecuteWaitsForAHandlerWhoseClientLeft(t *testing.T) {
	entered, sawCancel, release, handlerDone := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		close(entered)
		<-r.Context().Done()
		close(sawCancel)
		<-release
	})}
	ln := listen(t)
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()
	client := newClient()
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ln.Addr().String()+"/", nil)
	got := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		got <- err
	}()
	<-entered
	cancel()
	<-sawCancel
	<-got
	interrupt(nil)
	untilRefused(t, ln.Addr().String())
	select {
	case err := <-executed:
		t.Errorf("execute() = %v returned while a handler was still running", err)
	default:
	}
	close(release)
	<-handlerDone
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
}

// A hijacked connection (a websocket) is not tracked by Shutdown. Its
// handler has only its request context to learn of the stop; after a clean
// drain the adapter never cancels it, and execute returns with the handler
// still running.
func TestHTTPHijackedHandlerIsToldOfTheStopAndAwaited(t *testing.T) {
	hijacked, release, handlerDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var sawCancel bool
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		close(hijacked)
		select {
		case <-r.Context().Done(): // the server is stopping
			sawCancel = true
		case <-release:
		}
	})}
	ln := listen(t)
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
	<-hijacked
	interrupt(errors.New("stop"))
	select {
	case err := <-executed:
		select {
		case <-handlerDone:
		default:
			t.Errorf("execute() = %v returned while the hijacked handler still runs, its context not cancelled", err)
		}
		close(release)
	case <-time.After(safetyBound):
		close(release)
		<-executed
	}
	<-handlerDone
	if !sawCancel {
		t.Error("the hijacked handler was never told of the stop")
	}
}

// The cut over HTTP/2 (TLS), many streams on one connection: every handler
// must see the shutdown's cause. The past write deadline makes the first
// woken handler's write fail; the HTTP/2 server then closes the connection
// and cancels the streams that cancel(cause) has not reached yet with a
// plain context.Canceled. (No response leaks here: that part holds.)
func TestHTTP2CutGivesEveryHandlerTheCauseAndNoResponse(t *testing.T) {
	http2CutGivesTheCauseAndNoResponse(t, 0, 20)
}

// The same with the server's HTTP2.WriteByteTimeout set: HTTP/2 then sets
// its own write deadline before every write, undoing the cut's deadline in
// the past, so cut requests' responses get out before srv.Close().
func TestHTTP2CutWithWriteByteTimeoutGetsNoResponseOut(t *testing.T) {
	http2CutGivesTheCauseAndNoResponse(t, time.Minute, 5)
}

func http2CutGivesTheCauseAndNoResponse(t *testing.T, wbt time.Duration, runs int) {
	const inFlight = 100
	for i := range runs {
		cert := selfSigned(t)
		entered := make(chan struct{}, inFlight)
		causes := make(chan error, inFlight)
		srv := &http.Server{
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
			HTTP2:     &http.HTTP2Config{WriteByteTimeout: wbt},
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				<-r.Context().Done()
				causes <- context.Cause(r.Context())
				io.WriteString(w, "too late") // a cut request gets no response, even this
				w.(http.Flusher).Flush()
			}),
		}
		ln := listen(t)
		execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln), troupe.TLS("", ""), troupe.DrainTimeout(5*time.Millisecond))
		executed := make(chan error, 1)
		go func() { executed <- execute() }()
		pool := x509.NewCertPool()
		pool.AddCert(cert.Leaf)
		h2 := new(http.Protocols)
		h2.SetHTTP2(true)
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Protocols: h2}}
		got := make(chan string, inFlight)
		for range inFlight {
			go func() {
				resp, err := client.Get("https://" + ln.Addr().String() + "/")
				if err != nil {
					got <- ""
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				got <- resp.Proto + " " + string(body) + " " + errString(err)
			}()
		}
		for range inFlight {
			<-entered
		}
		boom := errors.New("boom")
		interrupt(boom)
		if err := <-executed; !errors.Is(err, troupe.ErrDrainTimeout) {
			t.Errorf("run %d: execute() = %v, want the drain timeout", i, err)
		}
		leaked, wrongCause := 0, 0
		var first string
		var firstCause error
		for range inFlight {
			if cause := <-causes; !errors.Is(cause, boom) {
				wrongCause++
				firstCause = cause
			}
			if r := <-got; r != "" {
				leaked++
				first = r
			}
		}
		if wrongCause > 0 {
			t.Errorf("run %d: %d of %d cut handlers saw the cause %v, not boom", i, wrongCause, inFlight, firstCause)
		}
		if leaked > 0 {
			t.Errorf("run %d: %d of %d cut requests got a response, such as %q", i, leaked, inFlight, first)
		}
		client.CloseIdleConnections()
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// Interrupt and execute race, in either order and concurrently, with other
// code calling Shutdown or Close at the same time and clients hitting the
// server; every execute must return, without error, with the listener
// closed and no handler running.
func TestHTTPInterruptExecuteAndOthersInAnyOrder(t *testing.T) {
	for i := range 200 {
		var running sync.WaitGroup
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			running.Add(1)
			defer running.Done()
			io.WriteString(w, "ok")
		})}
		ln := listen(t)
		addr := ln.Addr().String()
		execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln))
		executed := make(chan error, 1)
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { defer wg.Done(); <-start; executed <- execute() }()
		go func() { defer wg.Done(); <-start; interrupt(errors.New("stop")) }()
		go func() {
			defer wg.Done()
			<-start
			switch i % 4 {
			case 1:
				srv.Shutdown(context.Background())
			case 2:
				srv.Close()
			case 3:
				interrupt(nil)
			}
		}()
		client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
		clientsDone := make(chan struct{})
		go func() {
			defer close(clientsDone)
			for range 5 {
				resp, err := client.Get("http://" + addr + "/")
				if err != nil {
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		close(start)
		select {
		case err := <-executed:
			if err != nil {
				t.Errorf("run %d: execute() = %v", i, err)
			}
		case <-time.After(safetyBound):
			t.Fatalf("run %d: execute did not return", i)
		}
		wg.Wait()
		<-clientsDone
		client.CloseIdleConnections()
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("run %d: the listener is still open", i)
		}
	}
}

// doneCtx is a caller's own context type with a Done channel of its own (a
// merged or framework context), as a BaseContext may return.
type doneCtx struct {
	context.Context
	done chan struct{}
}

func (c doneCtx) Done() <-chan struct{} { return c.done }
func (c doneCtx) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// The adapter derives a cancellable context from the caller's BaseContext
// and, after a clean drain, never cancels it: with a parent context of the
// caller's own type, the context package watches the pair from a goroutine
// that then outlives execute (until the parent is done, which for an
// application-wide context is never).
func TestHTTPCallersBaseContextLeavesNothingRunning(t *testing.T) {
	parent := doneCtx{Context: context.Background(), done: make(chan struct{})}
	defer close(parent.done) // lets the watcher go at the end
	srv := &http.Server{
		BaseContext: func(net.Listener) context.Context { return parent },
		Handler:     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
	}
	ln := listen(t)
	before := goleak.IgnoreCurrent()
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()
	untilServing(t, ln.Addr().String())
	interrupt(nil)
	if err := <-executed; err != nil {
		t.Fatalf("execute() = %v", err)
	}
	if err := goleak.Find(before); err != nil {
		t.Errorf("a goroutine outlives execute after a clean drain:\n%v", err)
	}
}

// With a drain deadline under five seconds, a client that connected but has
// not yet sent a request (a browser's preconnect, a load balancer's warm
// connection) makes a drain with no request in flight fail: net/http counts
// a new connection as active for five seconds, so Shutdown runs out its
// deadline and execute reports requests cut.
func TestHTTPSilentConnectionDoesNotMakeAnEmptyDrainATimeout(t *testing.T) {
	ln := listen(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln), troupe.DrainTimeout(300*time.Millisecond))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()
	untilServing(t, ln.Addr().String())
	c, err := net.Dial("tcp", ln.Addr().String()) // connected, nothing sent yet
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	interrupt(nil)
	if err := <-executed; err != nil {
		t.Errorf("no request was in flight, yet execute() = %v", err)
	}
}

// An in-time drain under load from keep-alive, new-connection and HTTP/2
// clients: every request a handler accepted gets its full response.
func TestHTTPMixedLoadDrainDropsNothingAccepted(t *testing.T) {
	const perKind, maxRequests = 8, 10_000
	cert := selfSigned(t)
	var handled, finished atomic.Int64
	srv := &http.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		ErrorLog:  log.New(io.Discard, "", 0), // handshakes the stop cuts short
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := handled.Add(1)
			if n%7 == 0 {
				time.Sleep(time.Duration(n%40) * time.Millisecond) // simulated work
			}
			io.WriteString(w, "ok")
			finished.Add(1)
		}),
	}
	ln := listen(t)
	addr := ln.Addr().String()
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln), troupe.TLS("", ""))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()

	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	tlsConf := &tls.Config{RootCAs: pool}
	h1, h2 := new(http.Protocols), new(http.Protocols)
	h1.SetHTTP1(true)
	h2.SetHTTP2(true)
	clients := []*http.Client{
		{Transport: &http.Transport{TLSClientConfig: tlsConf.Clone(), MaxIdleConnsPerHost: 64, Protocols: h1}},
		{Transport: &http.Transport{TLSClientConfig: tlsConf.Clone(), DisableKeepAlives: true, Protocols: h1}},
		{Transport: &http.Transport{TLSClientConfig: tlsConf.Clone(), Protocols: h2}},
	}
	var sent, ok, failed atomic.Int64
	var firstFail atomic.Value
	var protos sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, client := range clients {
		for range perKind {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for sent.Add(1) <= maxRequests {
					select {
					case <-stop:
						return
					default:
					}
					resp, err := client.Get("https://" + addr + "/")
					if err != nil {
						failed.Add(1)
						firstFail.CompareAndSwap(nil, err.Error())
						if errors.Is(err, syscall.ECONNREFUSED) {
							return
						}
						continue
					}
					body, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					if rerr == nil && string(body) == "ok" {
						ok.Add(1)
						protos.Store(resp.Proto, true)
					}
				}
			}()
		}
	}
	eventually(t, "load", func() bool { return ok.Load() >= 1000 })
	inFlight := handled.Load() - finished.Load()
	interrupt(nil)
	if err := <-executed; err != nil {
		t.Fatalf("execute() = %v", err)
	}
	close(stop)
	wg.Wait()
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	protos.Range(func(k, _ any) bool { t.Logf("served over %v", k); return true })
	t.Logf("sent %d, ok %d, failed %d (first %v), handled %d, in flight at interrupt %d", sent.Load(), ok.Load(), failed.Load(), firstFail.Load(), handled.Load(), inFlight)
	if handled.Load() != ok.Load() {
		t.Errorf("handlers accepted %d requests but clients got %d full responses", handled.Load(), ok.Load())
	}
}

// A run shorter than the interval must not make a tick be skipped: the doc
// has only runs "that take longer than the interval" skip the ticks they
// covered, and Jitter only delays runs. With Jitter(interval) and runs of
// half an interval, the ticker drops every tick whose predecessor drew a
// jitter over half an interval: about a third of all runs.
func TestTickerJitterMakesNoShortRunSkipATick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval, work, runs = time.Second, 500 * time.Millisecond, 40
		r := newRunStarts(runs)
		runTicker(t, r.stop, interval, func(ctx context.Context) error {
			r.note()
			time.Sleep(work) // simulated work, half an interval (fake time)
			return nil
		}, troupe.Jitter(interval))
		var skipped []int
		last := int64(0)
		for _, at := range r.at {
			tick := int64(at / interval)
			for k := last + 1; k < tick; k++ {
				skipped = append(skipped, int(k))
			}
			last = tick
		}
		if len(skipped) > 0 {
			t.Errorf("%d runs of %v (interval %v) skipped %d of %d ticks: %v", runs, work, interval, len(skipped), last, skipped)
		}
	})
}

// The same defect through the group: the documented
// g.Add(troupe.Closer(db)).StopAfter("http") closes the database while a
// cut handler is still winding up and using it.
func TestHTTPLaterStageClosesOnlyAfterCutHandlersReturned(t *testing.T) {
	dbClosed := make(chan struct{})
	usedClosed := make(chan bool, 1)
	entered := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
		// Winding up: a rollback on the database. A correct adapter keeps
		// the database open until this returns, so the wait below is only
		// a window for the wrong order, not synchronisation.
		select {
		case <-dbClosed:
			usedClosed <- true
		case <-time.After(wrongReturnWindow):
			usedClosed <- false
		}
	})}
	ln := listen(t)
	g := troupe.Group{ShutdownTimeout: time.Minute}
	g.Add(troupe.HTTPServer(srv, troupe.Listener(ln), troupe.DrainTimeout(50*time.Millisecond))).Name("http")
	g.Add(troupe.CloseFunc(func() error { close(dbClosed); return nil })).Name("db").StopAfter("http")
	fire, ran := runUntilFired(&g, nil)
	client := newClient()
	defer client.CloseIdleConnections()
	got := make(chan struct{})
	go func() {
		defer close(got)
		if resp, err := client.Get("http://" + ln.Addr().String() + "/"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	close(fire)
	err := <-ran
	if !errors.Is(err, troupe.ErrDrainTimeout) {
		t.Errorf("Run() = %v, want the drain timeout", err)
	}
	if <-usedClosed {
		t.Error("the database was closed (StopAfter http) while a cut http handler still ran")
	}
	<-got
}

// In a plain run.Group the interrupts come one after another, often before
// the server's execute has begun; with a Listener or with srv.Addr, the
// group returns, the listener is closed and nothing is left running.
func TestHTTPInARunGroupStoppedAtOnceLeavesNothingOpen(t *testing.T) {
	for i := range 200 {
		ln := listen(t)
		addr := ln.Addr().String()
		srv := &http.Server{Handler: http.NotFoundHandler()}
		var opts []troupe.ServerOption
		if i%2 == 0 {
			opts = append(opts, troupe.Listener(ln))
		} else {
			ln.Close()
			srv.Addr = addr
		}
		var g run.Group
		g.Add(troupe.HTTPServer(srv, opts...))
		g.Add(troupe.Ticker(time.Hour, func(context.Context) error { return nil }))
		done := errors.New("done")
		g.Add(func() error { return done }, func(error) {})
		if err := g.Run(); err != done {
			t.Fatalf("run %d: Run() = %v", i, err)
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("run %d: %s still accepts connections", i, addr)
		}
	}
}

// Interrupting the same pair twice, concurrently, while requests are in
// flight: one drain, which they finish.
func TestHTTPInterruptedThriceConcurrentlyDrainsOnce(t *testing.T) {
	for i := range 50 {
		entered, release := make(chan struct{}, 4), make(chan struct{})
		var calls atomic.Int32
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-release
			io.WriteString(w, "done")
		})}
		ln := listen(t)
		execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln), troupe.BeforeStop(func() { calls.Add(1) }))
		executed := make(chan error, 1)
		go func() { executed <- execute() }()
		client := newClient()
		bodies := make(chan string, 4)
		for range 4 {
			go func() {
				resp, err := client.Get("http://" + ln.Addr().String() + "/")
				if err != nil {
					bodies <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				bodies <- string(b)
			}()
		}
		for range 4 {
			<-entered
		}
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() { defer wg.Done(); interrupt(errors.New("stop")) }()
		}
		wg.Wait()
		untilRefused(t, ln.Addr().String())
		close(release)
		for range 4 {
			if b := <-bodies; b != "done" {
				t.Errorf("run %d: got %q", i, b)
			}
		}
		if err := <-executed; err != nil {
			t.Errorf("run %d: execute() = %v", i, err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("run %d: BeforeStop ran %d times", i, n)
		}
		client.CloseIdleConnections()
	}
}

// TLS failure paths: with srv.Addr the adapter's own listener is closed (the
// port can be taken again), also with an interrupt racing execute.
func TestHTTPTLSFailurePathsFreeThePort(t *testing.T) {
	for i := range 50 {
		ln := listen(t)
		addr := ln.Addr().String()
		ln.Close()
		srv := &http.Server{Addr: addr}
		var opts []troupe.ServerOption
		if i%3 == 0 {
			srv.TLSConfig = &tls.Config{} // no certificate at all
			opts = append(opts, troupe.TLS("", ""))
		} else {
			opts = append(opts, troupe.TLS("no-such-cert.pem", "no-such-key.pem"))
		}
		execute, interrupt := troupe.HTTPServer(srv, opts...)
		executed := make(chan error, 1)
		go func() { executed <- execute() }()
		if i%2 == 0 {
			interrupt(errors.New("stop"))
		}
		err := <-executed
		if err != nil && errors.Is(err, troupe.ErrDrainTimeout) {
			t.Errorf("run %d: execute() = %v", i, err)
		}
		again, lerr := net.Listen("tcp", addr)
		if lerr != nil {
			t.Errorf("run %d: %s still held after execute() = %v: %v", i, addr, err, lerr)
			continue
		}
		again.Close()
	}
}

// Serve fails (its listener closed under it) while requests are in flight:
// execute still waits for them.
func TestHTTPServeFailureStillWaitsForHandlers(t *testing.T) {
	entered, release, handlerDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		close(entered)
		<-release
		io.WriteString(w, "done")
	})}
	ln := listen(t)
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()
	client := newClient()
	defer client.CloseIdleConnections()
	got := fetch(client, "http://"+ln.Addr().String()+"/")
	<-entered
	ln.Close()
	untilRefused(t, ln.Addr().String())
	select {
	case err := <-executed:
		t.Errorf("execute() = %v while a handler still ran", err)
	default:
	}
	interrupt(errors.New("late")) // the group's interrupt, during execute's own drain
	close(release)
	if b := <-got; b != "done" {
		t.Errorf("got %q", b)
	}
	if err := <-executed; err == nil {
		t.Error("execute() = nil after Serve failed")
	}
}
