package troupe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
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
	cutBegun    bool
	baseCancels []context.CancelCauseFunc
	conns       map[net.Conn]connInfo // as ConnState reported them, until closed or hijacked
	lastNew     time.Time             // when ConnState last reported a new connection
	handlers    int                   // handlers running
	quiet       chan struct{}         // closed when neither handlers nor conns are left, if someone waits
	changed     chan struct{}         // closed at the next change of conns or handlers, if someone waits

	closing  *atomic.Bool // true once the group's stop delay has begun; nil outside a Group
	draining atomic.Bool  // true once this server's drain has begun

	shutdownBegan    chan struct{} // closed by Shutdown, once it has closed the listeners
	shutdownOnce     sync.Once
	idle             chan struct{} // closed when no request is left, if someone waits
	unencryptedHTTP2 bool          // the server speaks HTTP/2 without TLS
	tlsHTTP2         bool          // the server may speak HTTP/2 over TLS, if it serves TLS
}

// connInfo is a connection's last state, when ConnState reported it, and
// how far its reading had got by then.
type connInfo struct {
	state http.ConnState
	since time.Time
	read  readProgress
}

func newRequests() *requests {
	return &requests{cutting: make(chan struct{}), cancelled: make(chan struct{}), shutdownBegan: make(chan struct{})}
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
		switch state {
		case http.StateHijacked, http.StateClosed:
			if state == http.StateHijacked {
				q.hijacked(c)
			}
			// The caller's hook first: a connection counts until its last
			// hook has returned, so that none runs after execute.
			if userConnState != nil {
				userConnState(c, state)
			}
			q.mu.Lock()
			delete(q.conns, c)
			q.checkQuiet()
			q.mu.Unlock()
			return
		}
		now := time.Now()
		q.mu.Lock()
		if q.conns == nil {
			q.conns = make(map[net.Conn]connInfo)
		}
		cc := asCutConn(c)
		if cc != nil && state == http.StateActive {
			cc.readAhead.Store(false) // the byte read ahead was this request's
		}
		q.conns[c] = connInfo{state, now, cc.progress()}
		if state == http.StateNew {
			q.lastNew = now
		}
		q.checkIdle()
		q.mu.Unlock()
		if userConnState != nil {
			userConnState(c, state)
		}
	}
	q.unencryptedHTTP2 = srv.Protocols != nil && srv.Protocols.UnencryptedHTTP2()
	q.tlsHTTP2 = tlsMaySpeakHTTP2(srv) // before Serve, which sets TLSNextProto
	srv.RegisterOnShutdown(func() { q.shutdownOnce.Do(func() { close(q.shutdownBegan) }) })
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q.handlerBegan()
		defer q.handlerEnded()
		if r.ProtoMajor == 1 {
			cw := &closingWriter{ResponseWriter: w, q: q}
			defer cw.decide() // a handler that writes nothing: net/http writes the header after it
			w = cw
		}
		if handler == nil {
			http.DefaultServeMux.ServeHTTP(w, r)
			return
		}
		handler.ServeHTTP(w, r)
	})
}

// hijacked hands a connection to its handler: the cut must not block its
// writes, which only the handler can end. A hijack once the cut has begun
// is a handler answering its cancellation, and stays cut.
func (q *requests) hijacked(c net.Conn) {
	cc := asCutConn(c)
	if cc == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.cutBegun {
		cc.hijacked.Store(true)
	}
}

func (q *requests) handlerBegan() {
	q.mu.Lock()
	q.handlers++
	q.mu.Unlock()
}

func (q *requests) handlerEnded() {
	q.mu.Lock()
	q.handlers--
	q.checkQuiet()
	q.mu.Unlock()
}

// checkQuiet wakes awaitQuiet, and whenIdle; q.mu is held.
func (q *requests) checkQuiet() {
	if q.handlers == 0 && len(q.conns) == 0 && q.quiet != nil {
		close(q.quiet)
		q.quiet = nil
	}
	q.checkIdle()
}

// checkIdle wakes whenIdle, and whoever waits for a change; q.mu is held.
func (q *requests) checkIdle() {
	if q.idle != nil && q.idleNow() {
		close(q.idle)
		q.idle = nil
	}
	if q.changed != nil {
		close(q.changed)
		q.changed = nil
	}
}

// tellClose reports whether responses are to say Connection: close: the
// group's stop delay or this server's drain has begun.
func (q *requests) tellClose() bool {
	return q.draining.Load() || (q.closing != nil && q.closing.Load())
}

// idleNow reports whether no handler runs and every open connection is
// idle between requests, its last response written out; q.mu is held. A
// connection just accepted (StateNew) is not idle: its request may be on
// its way. Nor is an HTTP/2 connection, for this purpose, though its
// server reports it idle between streams: its last frames may still wait
// in its buffer, so the wait lasts until the server closes it, which it
// does once GOAWAY has gone out and its last stream is done. HTTP/1
// writes a response out before the connection goes idle.
func (q *requests) idleNow() bool {
	if q.handlers > 0 {
		return false
	}
	for c, ci := range q.conns {
		if ci.state != http.StateIdle {
			return false
		}
		if speaksHTTP2(c) {
			return false
		}
	}
	return true
}

// whenIdle gives a channel closed once idleNow holds.
func (q *requests) whenIdle() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.idleNow() {
		idle := make(chan struct{})
		close(idle)
		return idle
	}
	if q.idle == nil {
		q.idle = make(chan struct{})
	}
	return q.idle
}

// awaitQuiet waits until no handler runs and every connection has closed
// or been hijacked, its hooks returned. Shutdown does not wait for all
// handlers (those of hijacked connections, of HTTP/2 streams their client
// reset), nor for the connections it closes itself; Close waits for
// neither.
func (q *requests) awaitQuiet() {
	q.mu.Lock()
	if q.handlers == 0 && len(q.conns) == 0 {
		q.mu.Unlock()
		return
	}
	if q.quiet == nil {
		q.quiet = make(chan struct{})
	}
	wait := q.quiet
	q.mu.Unlock()
	<-wait
}

// inFlight reports whether a request is being served: a handler runs, or a
// connection has sent a whole request header (StateActive). A connection
// that is only open (StateNew, StateIdle) has no request to cut, nor has
// one whose header has not all arrived: no handler has begun it, and its
// client may safely send it again.
func (q *requests) inFlight() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.handlers > 0 {
		return true
	}
	for _, ci := range q.conns {
		if ci.state == http.StateActive {
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
	q.mu.Lock()
	q.cutBegun = true
	q.mu.Unlock()
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
// their writes. It remembers its Close error, which Shutdown drops when
// its deadline passes. The drain may close its socket before Shutdown
// closes it (see hold).
type cutListener struct {
	net.Listener
	q         *requests
	closed    chan struct{} // closed by Close
	held      atomic.Bool   // the socket is closed, and Accept waits for Close
	ownSocket bool          // the adapter opened the socket: no other process holds it
	release   func()        // from refuseNewConnections, once the drain has begun to refuse
	closeOnce sync.Once
	sockOnce  sync.Once
	closeErr  error
}

func newCutListener(ln net.Listener, q *requests) *cutListener {
	return &cutListener{Listener: ln, q: q, closed: make(chan struct{})}
}

func (l *cutListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.closeSocket()
}

// closeSocket closes the listener below, once, and gives that Close's
// error.
func (l *cutListener) closeSocket() error {
	l.sockOnce.Do(func() { l.closeErr = l.Listener.Close() })
	return l.closeErr
}

func (l *cutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		if l.held.Load() {
			// Serve must not see the closed socket before Shutdown has
			// begun: it would return the error instead of
			// ErrServerClosed. The error wraps net.ErrClosed, not a
			// timeout, which Serve would retry forever.
			<-l.closed
		}
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
// begins until every request has been cancelled, and then fail. Hooks and
// handlers that hijack get it rather than the *net.TCPConn: its NetConn
// method gives the connection it wraps, as [tls.Conn.NetConn] does, and it
// is a syscall.Conn when that connection is.
type cutConn struct {
	net.Conn
	q        *requests
	hijacked atomic.Bool
	// net/http reports a kept-alive connection idle until a whole request
	// header has arrived, and the drain must not take one whose next
	// request has begun for idle; these tell it (see requestBegun).
	reads     atomic.Uint32 // the reads that brought a byte other than CR or LF
	deadlines atomic.Uint32 // the calls of SetReadDeadline
	readAhead atomic.Bool   // a one-byte read got a byte since the last request began
	// unencryptedHTTP2 is set once the connection has begun with HTTP/2's
	// preface, on a server that speaks HTTP/2 without TLS: nothing else
	// tells such a connection from an HTTP/1 one.
	unencryptedHTTP2 atomic.Bool
	received         atomic.Uint64              // the bytes read, to place them in start
	start            [len(h2cPrefaceStart)]byte // the first bytes read, while fewer than that have been
}

// h2cPrefaceStart begins HTTP/2's connection preface. No HTTP/1 request
// begins with it: PRI is no method that a client sends.
const h2cPrefaceStart = "PRI * HTTP/2.0"

// NetConn returns the connection that c wraps.
func (c *cutConn) NetConn() net.Conn { return c.Conn }

func (c *cutConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		before := c.received.Add(uint64(n)) - uint64(n)
		if c.q.unencryptedHTTP2 && before < uint64(len(c.start)) {
			c.sawStart(before, p[:n])
		}
		// Old clients send CRLF after a POST body, and net/http skips it
		// before the next request: it begins none.
		if len(bytes.Trim(p[:n], "\r\n")) > 0 {
			c.reads.Add(1)
			if len(p) == 1 {
				c.readAhead.Store(true)
			}
		}
	}
	return n, err
}

func (c *cutConn) SetReadDeadline(t time.Time) error {
	c.deadlines.Add(1)
	return c.Conn.SetReadDeadline(t)
}

// sawStart keeps the first bytes read, which begin at offset at of the
// connection, and marks the connection once they show HTTP/2's preface.
// Only the connection's own goroutine reads it this early.
func (c *cutConn) sawStart(at uint64, read []byte) {
	filled := int(at) + copy(c.start[at:], read)
	if filled == len(c.start) && string(c.start[:]) == h2cPrefaceStart {
		c.unencryptedHTTP2.Store(true)
	}
}

// readProgress is how far a connection's reading had got when ConnState
// last reported it.
type readProgress struct {
	reads     uint32
	deadlines uint32
	readAhead bool
}

// progress gives c's reading so far; nothing for a connection the adapter
// did not wrap (c nil).
func (c *cutConn) progress() readProgress {
	if c == nil {
		return readProgress{}
	}
	return readProgress{c.reads.Load(), c.deadlines.Load(), c.readAhead.Load()}
}

// requestBegun reports whether the next request of a kept-alive
// connection, reading as far as since when it went idle, has begun to
// arrive. net/http shows none of it until the whole header is in, so
// this reads its steps on the connection:
//   - a byte arrived after it went idle (CR and LF, which old clients
//     send after a POST body, do not count);
//   - a byte came before, which net/http's one-byte background read took
//     while the handler finished (the client had its answer and went on);
//   - its first four bytes came before, read with the last request's:
//     once idle, net/http sets a read deadline, waits for four bytes, and
//     sets another, so a second deadline since means they are in.
//
// These rest on how net/http reads; should that change, the drain is back
// to waiting out the idle grace alone, as before.
func requestBegun(c net.Conn, since readProgress) bool {
	now := asCutConn(c).progress()
	return now.reads != since.reads || since.readAhead || now.deadlines-since.deadlines >= 2
}

func (c *cutConn) Write(p []byte) (int, error) {
	if err := c.checkCut(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// sendfileChunk is how much of a file goes out between two checks for the
// cut.
const sendfileChunk = 1 << 20

// ReadFrom keeps sendfile for responses served from files, in chunks with
// a check for the cut between them. Any other source is copied through
// Write, so that every write is checked: a plain copy by the socket would
// let a handler relay a response once cancelled.
func (c *cutConn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	file, limit := fileSource(r)
	if !ok || file == nil {
		return io.Copy(struct{ io.Writer }{c}, r)
	}
	var total int64
	for {
		if err := c.checkCut(); err != nil {
			return total, err
		}
		n := int64(sendfileChunk)
		if limit != nil {
			if limit.N <= 0 {
				return total, nil
			}
			n = min(n, limit.N)
		}
		// One level of LimitedReader over the file, or sendfile is off.
		written, err := rf.ReadFrom(&io.LimitedReader{R: file, N: n})
		total += written
		if limit != nil {
			limit.N -= written
		}
		if err != nil || written < n {
			return total, err
		}
	}
}

// fileSource finds the file that sendfile can serve in a copy's source, as
// net/http hands it: the file, or a LimitedReader over it.
func fileSource(r io.Reader) (*os.File, *io.LimitedReader) {
	switch v := r.(type) {
	case *os.File:
		return v, nil
	case *io.LimitedReader:
		if f, ok := v.R.(*os.File); ok {
			return f, v
		}
	}
	return nil, nil
}

// SyscallConn gives the socket of the connection c wraps, for code that
// reaches it through syscall.Conn after a hijack.
func (c *cutConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.New("troupe: the connection has no system socket")
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
