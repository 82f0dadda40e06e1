package troupe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
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
// If the drain overruns, the requests still in flight are cut: their
// connections stop taking writes, so a cut request never gets a response,
// not even one its handler writes once cancelled; then their contexts are
// cancelled with the shutdown's cause, which [context.Cause] gives every
// handler; then the server is closed.
//
// Execute returns only once the server has stopped and drained, whoever
// stopped it: after the interrupt, after Serve failed, or after other code
// called srv.Shutdown or srv.Close. It returns nil after a clean drain, an
// error matching [ErrDrainTimeout] after a cut one, and the listener's
// Close error if that failed. An interrupt before execute begins is safe:
// it closes the [Listener], and execute then returns nil.
//
// HTTPServer sets srv.BaseContext and srv.ConnState, calling any that the
// caller set before, so that it can find the requests to cut.
func HTTPServer(srv *http.Server, opts ...ServerOption) (execute func() error, interrupt func(error)) {
	if srv == nil {
		panic("troupe: HTTPServer: nil *http.Server")
	}
	s := &httpActor{srv: srv, opts: buildServerOptions(opts), drained: make(chan struct{})}
	s.hook()
	return s.execute, s.interrupt
}

type httpActor struct {
	srv      *http.Server
	opts     serverOptions
	drained  chan struct{} // closed when the drain has finished
	drainErr error         // set before drained is closed

	mu          sync.Mutex
	phase       serverPhase
	draining    bool
	cause       error // the interrupt's, for the requests cut at the deadline
	baseCancels []context.CancelCauseFunc
	conns       map[net.Conn]struct{}
}

// serverPhase is where a server adapter stands, between its execute and
// its interrupt, which may come in either order.
type serverPhase uint8

const (
	notStarted   serverPhase = iota
	serving                  // execute has begun; it waits for the stop
	stoppedEarly             // interrupted before execute began
)

// hook makes the server report its connections and requests' contexts to
// the adapter, keeping the caller's own hooks.
func (s *httpActor) hook() {
	userBase, userConnState := s.srv.BaseContext, s.srv.ConnState
	s.srv.BaseContext = func(ln net.Listener) context.Context {
		parent := context.Background()
		if userBase != nil {
			parent = userBase(ln)
		}
		ctx, cancel := context.WithCancelCause(parent)
		s.mu.Lock()
		s.baseCancels = append(s.baseCancels, cancel)
		s.mu.Unlock()
		return ctx
	}
	s.srv.ConnState = func(c net.Conn, state http.ConnState) {
		switch state {
		case http.StateNew:
			s.mu.Lock()
			if s.conns == nil {
				s.conns = make(map[net.Conn]struct{})
			}
			s.conns[c] = struct{}{}
			s.mu.Unlock()
		case http.StateHijacked, http.StateClosed:
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}
		if userConnState != nil {
			userConnState(c, state)
		}
	}
}

func (s *httpActor) execute() error {
	s.mu.Lock()
	if s.phase == stoppedEarly {
		s.mu.Unlock()
		return nil
	}
	s.phase = serving
	s.mu.Unlock()

	ln, err := s.listen()
	if err != nil {
		return errors.Join(err, s.awaitDrain(false))
	}
	if s.opts.tls {
		err = s.srv.ServeTLS(ln, s.opts.certFile, s.opts.keyFile)
	} else {
		err = s.srv.Serve(ln)
	}
	addr := ln.Addr()
	ln.Close() // Serve closed it, but ServeTLS does not when the certificate fails to load
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	} else {
		err = fmt.Errorf("troupe: http server on %s: %w", addr, err)
	}
	return errors.Join(err, s.awaitDrain(true))
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
	s.mu.Lock()
	switch {
	case s.phase == notStarted:
		s.phase = stoppedEarly
		s.mu.Unlock()
		if s.opts.listener != nil {
			s.opts.listener.Close()
		}
		return
	case s.phase == serving:
		if s.cause == nil {
			s.cause = cause // also for a drain that execute began
		}
		begin := !s.draining
		s.draining = true
		s.mu.Unlock()
		if begin {
			go s.drain()
		}
		return
	}
	s.mu.Unlock()
}

// awaitDrain waits for the drain that the interrupt began, or drains now
// if nothing began one: Serve failed, or other code shut the server down.
// Either way no request of this server is still running when execute
// returns. A server that never served has nothing to drain.
func (s *httpActor) awaitDrain(served bool) error {
	s.mu.Lock()
	if !s.draining {
		s.draining = true
		s.mu.Unlock()
		if served {
			s.drain()
		} else {
			close(s.drained)
		}
	} else {
		s.mu.Unlock()
	}
	<-s.drained
	return s.drainErr
}

func (s *httpActor) drain() {
	defer close(s.drained)
	deadline := time.Now().Add(s.opts.drainTimeout)
	hookErr := s.opts.runBeforeStop("http")
	// A fresh context: see HTTPServer.
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	switch {
	case err == nil:
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		err = errors.Join(
			fmt.Errorf("troupe: http drain did not finish within %v; requests cut: %w", s.opts.drainTimeout, ErrDrainTimeout),
			s.cut())
	default:
		// Shutdown drained in time and reports the listener's Close.
		err = fmt.Errorf("troupe: http server: closing the listener: %w", err)
	}
	s.drainErr = errors.Join(hookErr, err)
}

// cut ends the requests still in flight at the drain deadline. The order
// matters: connections stop taking writes first, so that a handler which
// answers its cancellation cannot get a response out; then every request's
// context is cancelled with the cause, synchronously, so that no handler
// sees the plain context.Canceled of a closed connection first; only then
// is the server closed.
func (s *httpActor) cut() error {
	s.mu.Lock()
	cause := s.cause
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	cancels := s.baseCancels
	s.mu.Unlock()
	if cause == nil {
		cause = ErrDrainTimeout // nobody interrupted: other code began the stop
	}
	past := time.Unix(1, 0)
	for _, c := range conns {
		c.SetWriteDeadline(past)
	}
	for _, cancel := range cancels {
		cancel(cause)
	}
	return s.srv.Close()
}
