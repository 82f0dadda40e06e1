package troupe_test

// The cut at the drain deadline, and what execute waits for, where the
// wrapped connections meet net/http's less travelled paths; found by
// trying to break the adapter.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// cutRound serves handler, sends inFlight concurrent requests (POSTs with a
// small body when post), waits until every handler has entered, interrupts
// with a drain deadline that passes at once, and returns how many cut
// requests still got a complete response, and one of them.
func cutRound(t *testing.T, inFlight int, post bool, handler func(entered chan<- struct{}) http.HandlerFunc) (int, string) {
	t.Helper()
	entered := make(chan struct{}, inFlight)
	srv := &http.Server{Handler: handler(entered)}
	ln := listen(t)
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln), troupe.DrainTimeout(5*time.Millisecond))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()
	client := newClient()
	defer client.CloseIdleConnections()
	got := make(chan string, inFlight)
	for range inFlight {
		go func() {
			var resp *http.Response
			var err error
			if post {
				resp, err = client.Post("http://"+ln.Addr().String()+"/", "text/plain", strings.NewReader("unread"))
			} else {
				resp, err = client.Get("http://" + ln.Addr().String() + "/")
			}
			if err != nil {
				got <- ""
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				got <- ""
				return
			}
			got <- fmt.Sprintf("%d %q", resp.StatusCode, b)
		}()
	}
	for range inFlight {
		<-entered
	}
	interrupt(errors.New("boom"))
	if err := <-executed; !errors.Is(err, troupe.ErrDrainTimeout) {
		t.Errorf("execute() = %v, want the drain timeout", err)
	}
	leaked, first := 0, ""
	for range inFlight {
		if r := <-got; r != "" {
			leaked++
			first = r
		}
	}
	return leaked, first
}

// afterCancel is a body source whose bytes become available only once ctx
// is done (a stream a handler relays, whose next part arrives then).
type afterCancel struct {
	ctx  context.Context
	data []byte
}

func (r *afterCancel) Read(p []byte) (int, error) {
	<-r.ctx.Done()
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// A handler that relays a body with io.Copy (Content-Length known) writes
// through cutConn.ReadFrom, which checks the cut once and then hands the
// whole copy to (*net.TCPConn).ReadFrom: for a source that is not a file,
// a plain copy loop writing to the socket itself. What the handler writes
// once cancelled then gets out, and the client gets a complete response.
func TestHTTPCutStopsARelayWrittenThroughReadFrom(t *testing.T) {
	const body = "hello"
	leaked, first := cutRound(t, 50, false, func(entered chan<- struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush() // the header is out before the cut
			entered <- struct{}{}
			io.Copy(w, &afterCancel{ctx: r.Context(), data: []byte(body)})
		}
	})
	if leaked > 0 {
		t.Errorf("%d of 50 cut requests got a complete response, such as %s, written by the handler once cancelled", leaked, first)
	}
}

// A handler that, once cancelled at the cut, hijacks its connection and
// writes its response on it: the ConnState hook marks the connection
// hijacked, checkCut lets every write of a hijacked connection through,
// and srv.Close no longer closes it (net/http forgets hijacked
// connections). The cut request gets a complete response. A race (the
// hijack must reach net/http's trackConn before srv.Close takes the
// server's lock), so rounds are repeated.
func TestHTTPCutStopsAHandlerThatHijacksOnceCancelled(t *testing.T) {
	for i := range 10 {
		leaked, first := cutRound(t, 50, true, func(entered chan<- struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				<-r.Context().Done()
				c, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					return
				}
				defer c.Close()
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
			}
		})
		if leaked > 0 {
			t.Fatalf("round %d: %d of 50 cut requests got a complete response, such as %s, written by the handler once cancelled", i, leaked, first)
		}
	}
}

// After a cut, execute returns while net/http's connection goroutines still
// run and still call the caller's ConnState hook: a cut request whose large
// body the handler did not read gets net/http's lingering close (CloseWrite,
// then a 500 ms wait) before the connection reports StateClosed. The
// caller's hook then runs after execute (and Run) returned, when a later
// stop stage may have closed what it uses (a metrics sink, a logger).
func TestHTTPExecuteWaitsForTheCallersConnStateHookAfterACut(t *testing.T) {
	entered, closed := make(chan struct{}), make(chan struct{})
	srv := &http.Server{
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateClosed {
				close(closed)
			}
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-r.Context().Done()
		}),
	}
	ln := listen(t)
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln), troupe.DrainTimeout(5*time.Millisecond))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\npart of the body")
	<-entered
	interrupt(errors.New("boom"))
	if err := <-executed; !errors.Is(err, troupe.ErrDrainTimeout) {
		t.Errorf("execute() = %v, want the drain timeout", err)
	}
	select {
	case <-closed:
	default:
		t.Error("execute returned before the server's connection goroutine finished: the caller's ConnState hook (StateClosed) runs after execute returned")
		select {
		case <-closed:
		case <-time.After(safetyBound):
		}
	}
}

// A request whose header has only partly arrived when the drain deadline
// passes is cut, and is not counted as a request in flight: no handler
// began it, so its client may safely send it again. Execute returns nil
// (documented in inFlight), and the client gets no response.
func TestHTTPHalfSentRequestAtTheDeadlineIsCutButNotCounted(t *testing.T) {
	ln := listen(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln), troupe.DrainTimeout(100*time.Millisecond))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()
	untilServing(t, ln.Addr().String())
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n") // the rest of the header is on its way
	interrupt(nil)
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v, want nil: no request had reached a handler", err)
	}
	c.SetReadDeadline(time.Now().Add(safetyBound))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("the cut connection still answered (%d bytes)", n)
	}
}

// A handler that hijacks gets the adapter's wrapper of the connection: it
// is a syscall.Conn, as the *net.TCPConn is, for code that reaches the
// socket that way, and its NetConn method gives the *net.TCPConn itself.
func TestHTTPHijackedConnectionStillReachesTheSocket(t *testing.T) {
	got := make(chan string, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		_, sc := c.(syscall.Conn)
		var tcp bool
		if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
			_, tcp = nc.NetConn().(*net.TCPConn)
		}
		got <- fmt.Sprintf("syscall.Conn %v, NetConn a *net.TCPConn %v", sc, tcp)
	})}
	ln := listen(t)
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if want, have := "syscall.Conn true, NetConn a *net.TCPConn true", <-got; want != have {
		t.Errorf("hijacked connection: want %s, have %s", want, have)
	}
	interrupt(nil)
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v", err)
	}
}

// The listener's Close error is execute's error after an in-time drain
// (TestHTTPListenerCloseErrorAfterAnInTimeDrainIsItselfNotATimeout), but
// not when the deadline passes: Shutdown then returns the context's error
// in place of the listener's, and the srv.Close() that follows finds the
// listener already untracked (Serve has returned), so it reports nil.
func TestHTTPListenerCloseErrorIsKeptWhenTheDeadlinePasses(t *testing.T) {
	for _, inFlight := range []bool{false, true} {
		ln := listen(t)
		entered, accepted := make(chan struct{}), make(chan struct{})
		var once sync.Once
		srv := &http.Server{
			// Serving has begun once a connection is accepted: an
			// interrupt before that only closes the listener.
			ConnState: func(_ net.Conn, state http.ConnState) {
				if state == http.StateNew {
					once.Do(func() { close(accepted) })
				}
			},
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(entered)
				<-r.Context().Done()
			}),
		}
		execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(closeFails{ln}), troupe.DrainTimeout(100*time.Millisecond))
		executed := make(chan error, 1)
		go func() { executed <- execute() }()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		<-accepted
		if inFlight {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			<-entered
		} // else: a connection open, nothing sent, holds Shutdown to the deadline
		interrupt(nil)
		err = <-executed
		c.Close()
		if !errors.Is(err, errCloseFailed) {
			t.Errorf("request in flight %v: execute() = %v, want the listener's close error", inFlight, err)
		}
	}
}

// The same after a clean drain, with nothing cut: Shutdown closes idle
// keep-alive connections itself and returns at once, before their
// goroutines have woken to report StateClosed; execute returns nil while
// the caller's ConnState hook is still running for them. The hook takes a
// moment (wrongReturnWindow: a correct adapter waits it out, so a slow
// machine can only hide the defect).
func TestHTTPExecuteWaitsForTheCallersConnStateHookAfterACleanDrain(t *testing.T) {
	const conns = 5
	returned := make(chan struct{})
	hooksDone := make(chan struct{}, conns)
	var afterReturn atomic.Int32
	srv := &http.Server{
		ConnState: func(c net.Conn, s http.ConnState) {
			if s != http.StateClosed {
				return
			}
			defer func() { hooksDone <- struct{}{} }()
			select { // the hook at work: a metrics sink, a log line
			case <-returned:
				afterReturn.Add(1)
			case <-time.After(wrongReturnWindow):
			}
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
	}
	ln := listen(t)
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln))
	executed := make(chan error, 1)
	go func() { executed <- execute() }()
	for range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // the connection stays open, idle
	}
	interrupt(nil)
	err := <-executed
	close(returned)
	if err != nil {
		t.Fatalf("execute() = %v", err)
	}
	for range conns {
		select {
		case <-hooksDone:
		case <-time.After(safetyBound):
			t.Fatal("a connection never reported StateClosed")
		}
	}
	if n := afterReturn.Load(); n > 0 {
		t.Errorf("execute() returned nil while the caller's ConnState hook still ran (StateClosed) for %d of %d connections", n, conns)
	}
}
