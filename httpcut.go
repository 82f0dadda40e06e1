package troupe

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// requests is what an HTTP adapter knows of its server's requests, so that
// it can wait for their handlers and cut them exactly at the drain
// deadline. It learns it through hooks on the server: BaseContext,
// ConnState, Handler, and a listener whose connections can stop writing.
type requests struct {
	cutting   chan struct{} // closed as the cut begins: writes on served connections wait
	cancelled chan struct{} // closed once every request has the cause: the waiting writes fail

	mu          sync.Mutex
	baseCancels []context.CancelCauseFunc
	conns       map[net.Conn]http.ConnState // as ConnState reported them
	handlers    int                         // handlers running
	noHandlers  chan struct{}               // closed when handlers drops to 0, if someone waits
}

func newRequests() *requests {
	return &requests{cutting: make(chan struct{}), cancelled: make(chan struct{})}
}

// hook installs the hooks on srv, keeping the caller's own.
func (q *requests) hook(srv *http.Server) {
	userBase, userConnState, handler := srv.BaseContext, srv.ConnState, srv.Handler
	srv.BaseContext = func(ln net.Listener) context.Context {
		parent := context.Background()
		if userBase != nil {
			parent = userBase(ln)
		}
		ctx, cancel := context.WithCancelCause(parent)
		q.mu.Lock()
		q.baseCancels = append(q.baseCancels, cancel)
		q.mu.Unlock()
		return ctx
	}
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		q.mu.Lock()
		switch state {
		case http.StateHijacked, http.StateClosed:
			delete(q.conns, c)
		default:
			if q.conns == nil {
				q.conns = make(map[net.Conn]http.ConnState)
			}
			q.conns[c] = state
		}
		q.mu.Unlock()
		if state == http.StateHijacked {
			// The handler owns the connection now: the cut must not
			// block its writes, which only it can end.
			if cc := asCutConn(c); cc != nil {
				cc.hijacked.Store(true)
			}
		}
		if userConnState != nil {
			userConnState(c, state)
		}
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q.handlerBegan()
		defer q.handlerEnded()
		if handler == nil {
			http.DefaultServeMux.ServeHTTP(w, r)
			return
		}
		handler.ServeHTTP(w, r)
	})
}

func (q *requests) handlerBegan() {
	q.mu.Lock()
	q.handlers++
	q.mu.Unlock()
}

func (q *requests) handlerEnded() {
	q.mu.Lock()
	q.handlers--
	if q.handlers == 0 && q.noHandlers != nil {
		close(q.noHandlers)
		q.noHandlers = nil
	}
	q.mu.Unlock()
}

// awaitHandlers waits until no handler runs. Shutdown does not wait for
// all of them (those of hijacked connections, of HTTP/2 streams their
// client reset) and Close waits for none.
func (q *requests) awaitHandlers() {
	q.mu.Lock()
	if q.handlers == 0 {
		q.mu.Unlock()
		return
	}
	if q.noHandlers == nil {
		q.noHandlers = make(chan struct{})
	}
	wait := q.noHandlers
	q.mu.Unlock()
	<-wait
}

// inFlight reports whether a request is being served: a handler runs, or a
// connection has begun to send a request (StateActive). A connection that
// is only open (StateNew, StateIdle) has no request to cut.
func (q *requests) inFlight() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.handlers > 0 {
		return true
	}
	for _, state := range q.conns {
		if state == http.StateActive {
			return true
		}
	}
	return false
}

// cut ends the requests still in flight at the drain deadline, in an order
// that matters. Served connections stop writing first, so that a handler
// which answers its cancellation cannot get its response out. Then every
// request's context is cancelled with cause, synchronously, so that each
// handler sees it: had the writes failed at once, an HTTP/2 connection
// whose write failed would have closed and cancelled its other streams
// with a plain context.Canceled first. Only then do the waiting writes
// fail; the caller then closes the server.
//
// A connection that troupe could not wrap (a *tls.Conn from a TLS listener
// of the caller's) gets a write deadline in the past instead, which
// HTTP/2's WriteByteTimeout would override.
func (q *requests) cut(cause error) {
	close(q.cutting)
	q.mu.Lock()
	var unwrapped []net.Conn
	for c := range q.conns {
		if asCutConn(c) == nil {
			unwrapped = append(unwrapped, c)
		}
	}
	q.mu.Unlock()
	past := time.Unix(1, 0)
	for _, c := range unwrapped {
		c.SetWriteDeadline(past)
	}
	q.cancel(cause)
	close(q.cancelled)
}

// cancel cancels every request's context with cause, synchronously; after
// a clean drain it tells the handlers that Shutdown does not wait for
// (those of hijacked connections) that the server has stopped.
func (q *requests) cancel(cause error) {
	q.mu.Lock()
	cancels := q.baseCancels
	q.mu.Unlock()
	for _, cancel := range cancels {
		cancel(cause)
	}
}

// cutListener wraps the connections it accepts so that the cut can stop
// their writes.
type cutListener struct {
	net.Listener
	q *requests
}

func (l *cutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if _, ok := c.(*tls.Conn); ok {
		// net/http must see the *tls.Conn itself to handshake and to
		// offer HTTP/2; [TLS] wraps below it instead.
		return c, nil
	}
	return &cutConn{Conn: c, q: l.q}, nil
}

// cutConn is a served connection whose writes wait from the moment the cut
// begins until every request has been cancelled, and then fail. Its
// NetConn method gives the connection it wraps, for ConnState and
// ConnContext hooks that need it, as [tls.Conn.NetConn] does.
type cutConn struct {
	net.Conn
	q        *requests
	hijacked atomic.Bool
}

// NetConn returns the connection that c wraps.
func (c *cutConn) NetConn() net.Conn { return c.Conn }

func (c *cutConn) Write(p []byte) (int, error) {
	if err := c.checkCut(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// ReadFrom keeps sendfile for responses served from files.
func (c *cutConn) ReadFrom(r io.Reader) (int64, error) {
	if err := c.checkCut(); err != nil {
		return 0, err
	}
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c}, r)
}

// CloseWrite keeps net/http's graceful close of TCP connections.
func (c *cutConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// checkCut returns nil before the cut, and an error after it, once every
// request has been cancelled; a hijacked connection is its handler's, and
// is never cut.
func (c *cutConn) checkCut() error {
	select {
	case <-c.q.cutting:
	default:
		return nil
	}
	if c.hijacked.Load() {
		return nil
	}
	<-c.q.cancelled
	return net.ErrClosed
}

// asCutConn finds the cutConn in a connection that ConnState reports: the
// connection itself, or the one below a *tls.Conn.
func asCutConn(c net.Conn) *cutConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	cc, _ := c.(*cutConn)
	return cc
}
