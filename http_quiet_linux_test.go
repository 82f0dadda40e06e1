package troupe_test

// On Linux the HTTP adapter's drain drops no request on a connection the
// client had established and makes no client resend one: see
// HTTPServer's doc.

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
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

func TestHTTPStopDropsNothingForNewConnectionClients(t *testing.T) {
	loadAcrossAStop(t, false, false).check(t)
}

func TestHTTPStopDropsNothingForKeepAliveClients(t *testing.T) {
	loadAcrossAStop(t, true, false).check(t)
}

// A TLS server whose HTTP/2 is switched off drains as a plain one does,
// its clients offering HTTP/2 in vain.
func TestHTTPSWithoutHTTP2StopDropsNothingForNewConnectionClients(t *testing.T) {
	loadAcrossAStop(t, false, true).check(t)
}

func TestHTTPSWithoutHTTP2StopDropsNothingForKeepAliveClients(t *testing.T) {
	loadAcrossAStop(t, true, true).check(t)
}

// stopTally counts what the clients saw across one stop.
type stopTally struct {
	handled, ok, refused, dropped, retried, other atomic.Int64
	firstBad                                      atomic.Value
	justBefore, justBeforeOK                      int
}

func (s *stopTally) check(t *testing.T) {
	t.Helper()
	t.Logf("handled %d, ok %d, refused dials %d, dropped %d, retried %d, other %d; connected just before the stop %d, served %d",
		s.handled.Load(), s.ok.Load(), s.refused.Load(), s.dropped.Load(), s.retried.Load(), s.other.Load(), s.justBefore, s.justBeforeOK)
	if s.dropped.Load() != 0 || s.retried.Load() != 0 || s.other.Load() != 0 {
		t.Errorf("%d requests dropped on established connections, %d resent silently, %d failed otherwise; first: %v",
			s.dropped.Load(), s.retried.Load(), s.other.Load(), s.firstBad.Load())
	}
	if answered := s.ok.Load() + int64(s.justBeforeOK); s.handled.Load() != answered {
		t.Errorf("the server handled %d requests, the clients got %d full answers", s.handled.Load(), answered)
	}
	if s.justBeforeOK != s.justBefore {
		t.Errorf("%d of %d connections made just before the stop were served", s.justBeforeOK, s.justBefore)
	}
}

// loadAcrossAStop stops a server while 64 clients send requests that take
// a millisecond, each on a new connection or on kept-alive ones, and 16
// more connect just before the stop and send theirs as it begins. A
// client whose dial is refused is done, as a load balancer goes elsewhere.
// withTLS serves HTTPS with HTTP/2 switched off, to clients that offer it.
func loadAcrossAStop(t *testing.T, keepAlive, withTLS bool) *stopTally {
	const clients, perClientAtMost, justBefore, loadAtMost = 64, 5_000, 16, 30 * time.Second
	tally := &stopTally{justBefore: justBefore}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tally.handled.Add(1)
		time.Sleep(time.Millisecond) // simulated work
		io.WriteString(w, "ok")
	})}
	serving := ownPort(srv)
	transport := &http.Transport{MaxIdleConnsPerHost: clients, DisableKeepAlives: !keepAlive}
	opts, scheme := []troupe.ServerOption{troupe.DrainTimeout(30 * time.Second)}, "http://"
	if withTLS {
		srv.ErrorLog = log.New(io.Discard, "", 0) // handshakes the stop cuts short
		srv.TLSConfig, transport.TLSClientConfig = selfSignedTLS(t)
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		transport.TLSClientConfig.NextProtos = []string{"h2", "http/1.1"}
		transport.ForceAttemptHTTP2 = true
		opts, scheme = append(opts, troupe.TLS("", "")), "https://"
	}
	var g troupe.Group
	g.ShutdownTimeout = time.Minute
	g.Add(troupe.HTTPServer(srv, opts...)).Name("http")
	fire, ran := runUntilFired(&g, nil)
	addr := serving()

	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: time.Minute}
	bad := func(what string) { tally.firstBad.CompareAndSwap(nil, what) }
	done := make(chan struct{})
	giveUp := time.Now().Add(loadAtMost)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for n := 0; n < perClientAtMost && time.Now().Before(giveUp); n++ {
				select {
				case <-done:
					return
				default:
				}
				switch traced(client, scheme+addr+"/", tally, bad) {
				case errRefused:
					<-done
					return
				}
			}
		})
	}
	for tally.ok.Load() < 300 && time.Now().Before(giveUp) {
		time.Sleep(time.Millisecond) // polling a counter, bounded above
	}
	var late []net.Conn
	for range justBefore {
		late = append(late, dialRaw(t, addr))
	}
	close(fire)
	served := make(chan bool, justBefore)
	for _, c := range late {
		if withTLS {
			// The handshake, as the request, comes as the stop begins.
			config := transport.TLSClientConfig.Clone()
			config.ServerName = "127.0.0.1"
			c = tls.Client(c, config)
		}
		go func() { served <- askOnConn(c, addr) }()
	}
	if err := <-ran; err != nil {
		t.Errorf("Run() = %v", err)
	}
	close(done)
	wg.Wait()
	for range justBefore {
		if <-served {
			tally.justBeforeOK++
		}
	}
	return tally
}

var errRefused = errors.New("refused")

// traced sends one GET and counts it: ok; refused, when the last attempt
// found no connection; dropped, when it failed on one; retried, when the
// client made more than one attempt.
func traced(client *http.Client, url string, tally *stopTally, bad func(string)) error {
	var gets, gots int
	trace := &httptrace.ClientTrace{
		GetConn: func(string) { gets++ },
		GotConn: func(httptrace.GotConnInfo) { gots++ },
	}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", url, nil)
	resp, err := client.Do(req)
	if gets > 1 {
		tally.retried.Add(1)
		bad(fmt.Sprintf("resent after %d attempts: %v", gets, err))
	}
	if err != nil {
		switch {
		case gots < gets && errors.Is(err, syscall.ECONNREFUSED):
			tally.refused.Add(1)
			return errRefused
		case gots == gets:
			tally.dropped.Add(1)
		default:
			tally.other.Add(1)
		}
		bad(err.Error())
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "ok" {
		tally.other.Add(1)
		bad(fmt.Sprintf("status %d body %q: %v", resp.StatusCode, body, err))
		return errors.New("bad answer")
	}
	tally.ok.Add(1)
	return nil
}

// A connection the server accepted before the stop, whose client sends its
// request only once the stop has begun (here, once the listener refuses
// new dials), is served, and told to close; so is one still in the
// kernel's accept queue.
func TestHTTPConnectionAcceptedBeforeTheStopIsServedAfterIt(t *testing.T) {
	hook, accepted := connStateSeen(http.StateNew)
	addr, interrupt, executed := startHTTP(t, &http.Server{Handler: okHandler(), ConnState: hook})

	first := dialRaw(t, addr)
	<-accepted
	second := dialRaw(t, addr) // accepted or queued: either way it is the server's
	interrupt(nil)
	untilRefused(t, addr)
	for i, c := range []net.Conn{first, second} {
		if !askOnConn(c, addr) {
			t.Errorf("connection %d, made before the stop, was not served after it", i)
		}
	}
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
}

// Once the stop has begun a new dial is refused, at once, while a request
// in flight is still being served; every dial that connected meanwhile is
// served, none reset.
func TestHTTPStopRefusesNewDialsAtOnceAndServesEveryConnectionItTook(t *testing.T) {
	held, entered, release := heldHandler()
	mux := http.NewServeMux()
	mux.Handle("/", okHandler())
	mux.Handle("/slow", held)
	addr, interrupt, executed := startHTTP(t, &http.Server{Handler: mux})
	slow := fetchInFlight(t, "http://"+addr+"/slow", entered)
	interrupt(nil)

	refused := false
	for range 10_000 { // bounded; the refusal comes within a few dials
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("a dial during the drain failed other than by refusal: %v", err)
			}
			refused = true
			break
		}
		if !askOnConn(c, addr) {
			t.Fatal("a connection the server took as the stop began was not served")
		}
	}
	if !refused {
		t.Fatal("new dials were never refused")
	}
	select {
	case <-slow:
		t.Fatal("the request in flight ended before the refusal")
	case <-executed:
		t.Fatal("execute returned before the request in flight was answered")
	default:
	}
	close(release)
	if body := <-slow; body != "ok" {
		t.Errorf("the request in flight at the stop got %q", body)
	}
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
}

// A TLS server whose HTTP/2 is switched off settles as a plain one does: a
// connection whose handshake was done before the stop, and whose request
// comes only once new dials are refused, is served and told to close. A
// plain Shutdown drops that request, as it drops any it reads once begun.
func TestHTTPSWithoutHTTP2ServesARequestSentAfterTheStop(t *testing.T) {
	for _, tc := range []struct {
		name       string
		http2IsOff func(*http.Server)
	}{
		{"empty TLSNextProto", func(srv *http.Server) {
			srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		}},
		{"Protocols without HTTP/2", func(srv *http.Server) {
			var p http.Protocols
			p.SetHTTP1(true)
			srv.Protocols = &p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serverTLS, clientTLS := selfSignedTLS(t)
			srv := &http.Server{TLSConfig: serverTLS, Handler: okHandler()}
			tc.http2IsOff(srv)
			addr, interrupt, executed := startHTTP(t, srv, troupe.TLS("", ""))
			clientTLS.NextProtos = []string{"h2", "http/1.1"}
			c, err := tls.Dial("tcp", addr, clientTLS)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Minute)) // a safety net only
			interrupt(nil)
			untilRefused(t, addr)
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("the request sent after the stop: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(body) != "ok" || !resp.Close {
				t.Errorf("the request sent after the stop got %q, Connection: close %v, %v", body, resp.Close, err)
			}
			if err := <-executed; err != nil {
				t.Errorf("execute() = %v", err)
			}
		})
	}
}

// Dials that race the drain, from clients that go on dialing after a
// refusal (a health checker, a client retrying the same address): each one
// is refused, or connects and is served. None connects and is then reset,
// which would mean the kernel had queued it and the socket's close threw
// it away: the socket refuses dials until it is closed. (A socket given
// with Listener, which another process may share, is bound back as it
// closes, and a dial in that instant can be reset; see HTTPServer.)
func TestDialsRacingTheDrainAreRefusedOrServedNeverReset(t *testing.T) {
	const dialers = 48
	srv := &http.Server{Handler: okHandler()}
	serving := ownPort(srv)
	execute, interrupt := troupe.HTTPServer(srv, troupe.DrainTimeout(10*time.Second))
	executed := serveOn(execute)
	addr := serving()
	done := make(chan struct{})
	type result struct{ refused, served, reset, other int }
	results := make(chan result, dialers)
	var firstOther sync.Once
	var going sync.WaitGroup // each dialer has made its first dial
	going.Add(dialers)
	for range dialers {
		go func() {
			var r result
			for i := range 1_000_000 { // bounded; ends with the drain
				if i == 1 {
					going.Done()
				}
				select {
				case <-done:
					results <- r
					return
				default:
				}
				c, err := net.Dial("tcp", addr)
				switch {
				case err == nil:
					if askOnConn(c, addr) {
						r.served++
					} else {
						r.other++
					}
				case errors.Is(err, syscall.ECONNREFUSED):
					r.refused++
				case errors.Is(err, syscall.ECONNRESET):
					r.reset++
				default:
					r.other++
					firstOther.Do(func() { t.Logf("dial: %v", err) })
				}
			}
			results <- r
		}()
	}
	going.Wait()
	interrupt(nil)
	err := <-executed
	close(done)
	var total result
	for range dialers {
		r := <-results
		total.refused += r.refused
		total.served += r.served
		total.reset += r.reset
		total.other += r.other
	}
	t.Logf("served %d, refused %d, reset on connect %d, other %d", total.served, total.refused, total.reset, total.other)
	if total.reset != 0 || total.other != 0 {
		t.Errorf("%d dials were reset after connecting, %d failed otherwise", total.reset, total.other)
	}
	if err != nil {
		t.Errorf("execute() = %v", err)
	}
}
