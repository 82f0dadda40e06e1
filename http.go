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

// ErrDrainTimeout is matched by errors.Is when a server adapter's drain did
// not finish within its [DrainTimeout] and its connections were cut.
var ErrDrainTimeout = errors.New("troupe: drain deadline passed")

// DefaultDrainTimeout is how long [HTTPServer] and [GRPCServer] let
// in-flight requests finish before cutting them, unless [DrainTimeout] says
// otherwise. It leaves room, inside Kubernetes's default 30s grace period,
// for the stop stages that follow the servers.
const DefaultDrainTimeout = 20 * time.Second

// ServerOption configures [HTTPServer] and [GRPCServer].
type ServerOption interface{ applyServer(*serverOptions) }

type serverOptions struct {
	listener     net.Listener
	certFile     string
	keyFile      string
	tls          bool
	drainTimeout time.Duration
	beforeStop   func()
}

type serverOptionFunc func(*serverOptions)

func (f serverOptionFunc) applyServer(o *serverOptions) { f(o) }

// Listener makes [HTTPServer] serve on ln instead of listening on the
// server's Addr; the adapter closes it. [GRPCServer] takes its listener as
// an argument instead.
func Listener(ln net.Listener) ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.listener = ln })
}

// TLS makes [HTTPServer] serve HTTPS with the certificate and key files, as
// [http.Server.ServeTLS] does; empty names use the server's TLSConfig.
func TLS(certFile, keyFile string) ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.tls, o.certFile, o.keyFile = true, certFile, keyFile })
}

// DrainTimeout bounds how long in-flight requests may take to finish once
// the server is interrupted; after it, they are cancelled and their
// connections closed, and execute returns an error matching
// [ErrDrainTimeout]. The default is [DefaultDrainTimeout]; a negative or
// zero d is replaced by it.
func DrainTimeout(d time.Duration) ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.drainTimeout = d })
}

// BeforeStop runs fn when the server is interrupted, before it stops
// accepting work: the place to mark a health service NOT_SERVING.
func BeforeStop(fn func()) ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.beforeStop = fn })
}

func buildServerOptions(opts []ServerOption) serverOptions {
	var o serverOptions
	for _, opt := range opts {
		opt.applyServer(&o)
	}
	if o.drainTimeout <= 0 {
		o.drainTimeout = DefaultDrainTimeout
	}
	return o
}

// HTTPServer returns an actor that serves srv and drains it when
// interrupted.
//
// It listens on srv.Addr (":http", or ":https" with [TLS], when empty)
// unless [Listener] gives a listener; a listen error, such as a port in
// use, is execute's error and names the address.
//
// The interrupt calls [http.Server.Shutdown] with a fresh deadline of
// [DrainTimeout]: never with the group's context, which is already
// cancelled and would make Shutdown return at once, dropping every
// in-flight request. If the drain overruns, the requests' base context is
// cancelled with the shutdown's cause and the server is closed. The
// interrupt returns at once and the drain goes on in the background, so
// servers drain in parallel even in a plain run.Group.
//
// Execute returns only once the drain has finished, not when Serve returns
// [http.ErrServerClosed] at the start of it. It returns nil after a clean
// drain, and an error matching [ErrDrainTimeout] after a cut one. An
// interrupt before Serve is safe.
//
// HTTPServer sets srv.BaseContext, calling any the caller set, so that it
// can cancel requests at the drain deadline.
func HTTPServer(srv *http.Server, opts ...ServerOption) (execute func() error, interrupt func(error)) {
	if srv == nil {
		return nil, nil
	}
	o := buildServerOptions(opts)
	s := &httpActor{srv: srv, opts: o, stopping: make(chan struct{}), drained: make(chan struct{})}
	var baseCtx context.Context
	baseCtx, s.cancelBase = context.WithCancelCause(context.Background())
	userBase := srv.BaseContext
	srv.BaseContext = func(ln net.Listener) context.Context {
		if userBase == nil {
			return baseCtx
		}
		return mergeCancel(userBase(ln), baseCtx)
	}
	return s.execute, s.interrupt
}

type httpActor struct {
	srv        *http.Server
	opts       serverOptions
	cancelBase context.CancelCauseFunc
	once       sync.Once
	stopping   chan struct{} // closed when the interrupt begins
	drained    chan struct{} // closed when the drain has finished
	drainErr   error         // set before drained is closed
}

func (s *httpActor) execute() error {
	ln := s.opts.listener
	if ln == nil {
		addr := s.srv.Addr
		if addr == "" {
			addr = ":http"
			if s.opts.tls {
				addr = ":https"
			}
		}
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("troupe: http server cannot listen on %s: %w", addr, err)
		}
	}
	var err error
	if s.opts.tls {
		err = s.srv.ServeTLS(ln, s.opts.certFile, s.opts.keyFile)
	} else {
		err = s.srv.Serve(ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("troupe: http server on %s: %w", ln.Addr(), err)
	}
	select {
	case <-s.stopping:
		<-s.drained
		return s.drainErr
	default:
		// Someone else shut the server down; there is no drain of ours to
		// wait for.
		return nil
	}
}

func (s *httpActor) interrupt(cause error) {
	s.once.Do(func() {
		close(s.stopping)
		go s.drain(cause)
	})
}

func (s *httpActor) drain(cause error) {
	defer close(s.drained)
	if s.opts.beforeStop != nil {
		s.opts.beforeStop()
	}
	// A fresh context: see HTTPServer.
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.drainTimeout)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err == nil {
		return
	}
	if cause == nil {
		cause = ErrDrainTimeout
	}
	s.cancelBase(cause)
	s.drainErr = errors.Join(
		fmt.Errorf("troupe: http drain did not finish within %v; requests cancelled and connections closed: %w", s.opts.drainTimeout, ErrDrainTimeout),
		s.srv.Close())
}

// mergeCancel returns a context with parent's values that is also done when
// cancel is done, with cancel's cause.
func mergeCancel(parent, cancel context.Context) context.Context {
	ctx, stop := context.WithCancelCause(parent)
	context.AfterFunc(cancel, func() { stop(context.Cause(cancel)) })
	return ctx
}
