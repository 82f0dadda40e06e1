package troupe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// HTTPServer returns an actor that serves srv and drains it when
// interrupted. It panics if srv is nil.
//
// It listens on srv.Addr (":http", or ":https" with [TLS], when empty)
// unless [Listener] gives a listener; a listen error, such as a port in
// use, is execute's error and names the address. The listener is closed on
// every path.
//
// The interrupt calls [http.Server.Shutdown] with a fresh deadline of
// [DrainTimeout]: never with the group's context, which is already
// cancelled and would make Shutdown return at once, dropping every
// in-flight request. The interrupt returns at once and the drain goes on in
// the background, so servers drain in parallel even in a plain run.Group.
//
// On Linux (5.0 or later), a drain the interrupt begins first settles the
// server, where the listener allows it, and calls Shutdown only once
// Shutdown has nothing left to drop: a plain Shutdown drops requests that
// clients had sent on connections the server had taken. The listening
// socket stops taking new connections (a dial is refused at once, which a
// load balancer retries elsewhere) but keeps those in its accept queue,
// which are served; every HTTP/1 response says Connection: close; the
// socket closes once no connection has arrived for 20ms; and Shutdown
// comes once every HTTP/1 connection has closed. A connection accepted
// whose request has not arrived is waited for, up to the 5s that Shutdown
// itself allows it, and so is a kept-alive connection on which the next
// request has begun to arrive. A kept-alive connection on which nothing
// has arrived for 100ms since the drain began, whose client was told
// nothing, is left to Shutdown, which closes it: closing it is the one way
// to end it, and a request its client begins to send at that moment may
// fail, or be resent by the client. All of it counts against
// [DrainTimeout], and the drain takes at least 20ms. A socket the adapter
// listens on itself refuses dials until it is gone. One given with
// [Listener] may be held by another process too (systemd, for the next
// start), which must take connections again: it refuses them for that
// process too while the queue drains, and is bound back as this process
// closes it, so that a dial in that instant may be reset.
//
// A request pipelined behind one that the drain answers with
// Connection: close is not served: net/http closes the connection after
// that answer, and HTTP/1.1 asks a pipelining client to send it again.
//
// A server that may speak HTTP/2 (the [TLS] option, unless the server's
// Protocols or an empty TLSNextProto switch HTTP/2 off, or unencrypted
// HTTP/2) drains with Shutdown at once: its HTTP/2 clients hear of the
// stop only from Shutdown's GOAWAY, and would otherwise go on sending
// until the deadline. So does a [Listener] that is not a
// *net.TCPListener (a wrapper, a TLS listener, a Unix socket), one in an
// SO_REUSEPORT group (Linux drops, rather than refuses, the dials it
// would still hash to it), a [Listener] in a process without CAP_NET_RAW
// (Linux would not let it bind the socket back for another process that
// holds it), every platform but Linux, and a kernel that refuses.
//
// If the drain overruns, the requests still in flight are cut: a cut
// request gets no response, not even one its handler writes once
// cancelled; every handler's context is cancelled with the shutdown's
// cause, which [context.Cause] gives it; and the server is closed. After a
// drain, cut or clean, the requests' contexts are cancelled with the cause,
// which tells the handlers that Shutdown does not wait for (those of
// hijacked connections, such as websockets) that the server has stopped.
//
// Execute returns only once the server has stopped and every handler has
// returned, whoever stopped it: the interrupt, a Serve that failed, or
// other code calling srv.Shutdown or srv.Close. A handler that ignores its
// context therefore holds execute, bounded by [Group.ShutdownTimeout], so
// that what a later stop stage closes (a database) is no longer in use.
// Execute returns nil after a clean drain, an error matching
// [ErrDrainTimeout] after one that cut requests, and the listener's Close
// error if that failed. A deadline that passed with connections open but
// no request in flight cut nothing, and neither did one that cut a request
// whose header had not all arrived: no handler had begun it. An interrupt before execute begins
// is safe: it closes the [Listener], and execute then returns nil.
//
// Execute also waits until every connection has closed and the caller's
// ConnState hook has returned for it, so that no hook runs after Run. The
// pair runs once: a second call of execute (the pair added twice) returns
// an error at once.
//
// Execute sets srv.BaseContext, srv.ConnState and srv.Handler, calling
// the ones the caller set, and serves connections wrapped so that the cut
// can stop their writes. A hook or a handler that hijacks gets the
// wrapper: its NetConn method gives the accepted connection, as a
// *tls.Conn's does, and it is a syscall.Conn when that is. A [Listener]
// that yields *tls.Conn is served as it is, and its cut falls back to a
// write deadline in the past, which HTTP/2's WriteByteTimeout overrides:
// serve TLS with the [TLS] option for the exact cut.
func HTTPServer(srv *http.Server, opts ...ServerOption) (execute func() error, interrupt func(error)) {
	if srv == nil {
		panic("troupe: HTTPServer: nil *http.Server")
	}
	s := &httpActor{srv: srv, opts: buildServerOptions(opts), stop: newServerStop(), requests: newRequests()}
	return s.execute, s.interrupt
}

type httpActor struct {
	srv      *http.Server
	opts     serverOptions
	stop     serverStop
	requests *requests
	ready    func()                      // from the Group's link, if any: called once accepting
	served   atomic.Pointer[cutListener] // set before Serve begins
}

func (s *httpActor) execute() error {
	if began, err := s.stop.begin(); !began {
		return err
	}
	ln, err := s.listen()
	if err != nil {
		return join(err, s.awaitStop(false))
	}
	if s.ready != nil {
		s.ready() // the kernel accepts connections from here on
	}
	s.requests.hook(s.srv)
	served := newCutListener(ln, s.requests)
	served.ownSocket = s.opts.listener == nil
	s.served.Store(served)
	if s.opts.tls {
		err = s.srv.ServeTLS(served, s.opts.certFile, s.opts.keyFile)
	} else {
		err = s.srv.Serve(served)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	} else {
		err = fmt.Errorf("troupe: http server on %s: %w", ln.Addr(), err)
	}
	drainErr := s.awaitStop(true)
	// Serve closed the listener, except when a certificate failed to load;
	// Close again gives the first Close's error, which a Shutdown that
	// overran its deadline does not report.
	var closeErr error
	if cerr := served.Close(); cerr != nil {
		closeErr = fmt.Errorf("troupe: http server: closing the listener: %w", cerr)
	}
	return join(err, drainErr, closeErr)
}

func (s *httpActor) listen() (net.Listener, error) {
	if s.opts.listener != nil {
		return s.opts.listener, nil
	}
	addr := s.srv.Addr
	if addr == "" {
		addr = ":http"
		if s.opts.tls {
			addr = ":https"
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("troupe: http server cannot listen on %s: %w", addr, err)
	}
	return ln, nil
}

func (s *httpActor) interrupt(cause error) {
	if link, ok := cause.(*adapterLink); ok {
		s.link(link)
		return
	}
	switch early, start := s.stop.interrupt(cause); {
	case early && s.opts.listener != nil:
		s.opts.listener.Close()
	case start:
		go s.drain(true)
	}
}

// awaitStop waits for the drain that the interrupt began, or drains now if
// nothing began one: Serve failed, or other code shut the server down.
// Either way no request of this server is still running when execute
// returns. A server that never served has nothing to drain.
func (s *httpActor) awaitStop(served bool) error {
	if mine, _ := s.stop.claim(); mine {
		if served {
			s.drain(false)
		} else {
			s.stop.finish(nil)
		}
	}
	return s.stop.wait()
}

// errAnswered ends Shutdown's wait once every request has its response.
var errAnswered = errors.New("troupe: every request answered")

// shutdown calls Shutdown, and ends its wait as soon as, Shutdown having
// begun, no request is left and every connection is idle: answered
// reports that. Shutdown itself learns that only at its next poll. Only
// once Shutdown has begun does that state last: from then on net/http
// serves no request it had not read.
func (s *httpActor) shutdown(ctx context.Context) (answered bool, err error) {
	waiting, endWait := context.WithCancelCause(ctx)
	defer endWait(nil)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-s.requests.shutdownBegan:
		case <-stop:
			return
		}
		select {
		case <-s.requests.whenIdle():
			endWait(errAnswered)
		case <-stop:
		}
	}()
	err = s.srv.Shutdown(waiting)
	close(stop)
	<-stopped
	return err != nil && errors.Is(context.Cause(waiting), errAnswered) && ctx.Err() == nil, err
}

// link takes what the Group tells it: see adapterLink. It comes before
// execute's goroutine starts.
func (s *httpActor) link(l *adapterLink) {
	l.announces = true
	s.ready = l.ready
	s.requests.closing = &l.notice.begun
	l.notice.onBegin(func() { s.stop.hookEarly(s.opts.beforeStopHook("http")) })
}

// drain stops the server: interrupted, it first settles (see settle),
// where the listener allows; begun by execute, Shutdown has begun already,
// or Serve failed, and there is nothing to settle.
func (s *httpActor) drain(interrupted bool) {
	deadline := time.Now().Add(s.opts.drainTimeout)
	hookErr := s.stop.hook(s.opts.beforeStopHook("http"))
	// A fresh context: see HTTPServer.
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if ln := s.served.Load(); interrupted && ln != nil {
		s.settle(ln, deadline)
	}
	// Shutdown's other errors are the listener's Close, which execute
	// reports.
	var err error
	answered, shutdownErr := s.shutdown(ctx)
	switch {
	case answered:
		// Every request has its response and every connection is idle:
		// close them now, not at Shutdown's next poll for idle
		// connections, which backs off to 500ms.
		s.srv.Close() // its listeners are closed already, and their errors are execute's
		s.requests.cancel(s.stop.causeOr(http.ErrServerClosed))
	case ctx.Err() != nil && errors.Is(shutdownErr, ctx.Err()):
		cutAny := s.requests.inFlight()
		s.requests.cut(s.stop.causeOr(ErrDrainTimeout))
		s.srv.Close() // its listeners are closed already, and their errors are execute's
		if cutAny {
			err = fmt.Errorf("troupe: http drain did not finish within %v; requests cut: %w", s.opts.drainTimeout, ErrDrainTimeout)
		}
	default:
		s.requests.cancel(s.stop.causeOr(http.ErrServerClosed))
	}
	s.requests.awaitQuiet()
	s.stop.finish(join(hookErr, err))
}
