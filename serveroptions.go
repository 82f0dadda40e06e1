package troupe

import (
	"errors"
	"fmt"
	"net"
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
// server's Addr; the adapter closes it on every path, also when it is
// interrupted before it began to serve. [GRPCServer] takes its listener as
// an argument instead. Listener panics if ln is nil.
func Listener(ln net.Listener) ServerOption {
	if isNil(ln) {
		panic("troupe: Listener: nil listener")
	}
	return serverOptionFunc(func(o *serverOptions) { o.listener = ln })
}

// TLS makes [HTTPServer] serve HTTPS with the certificate and key files, as
// [http.Server.ServeTLS] does; empty names use the server's TLSConfig.
func TLS(certFile, keyFile string) ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.tls, o.certFile, o.keyFile = true, certFile, keyFile })
}

// DrainTimeout bounds how long the server may take to stop once it is
// interrupted, [BeforeStop] included; after it, in-flight requests are
// cut, and execute returns an error matching [ErrDrainTimeout]. Zero means
// [DefaultDrainTimeout]; a negative d panics.
func DrainTimeout(d time.Duration) ServerOption {
	if d < 0 {
		panic(fmt.Sprintf("troupe: DrainTimeout: negative duration %v", d))
	}
	return serverOptionFunc(func(o *serverOptions) { o.drainTimeout = d })
}

// BeforeStop runs fn when a serving server's stop begins, before it stops
// accepting work: the place to mark a health service NOT_SERVING. That is
// when the server is interrupted, or, under a [Group] with a
// [Group.StopDelay], as the delay begins; the interrupt then waits for it.
// Run at the interrupt, its time counts against [DrainTimeout]. A panic in
// fn becomes a [*PanicError] in execute's error, a runtime.Goexit an error
// there, and the stop goes on. A fn that never returns holds the
// server's stop, bounded only by [Group.ShutdownTimeout]: the adapter cannot
// abandon it without leaving it running after Run. BeforeStop panics if fn
// is nil.
func BeforeStop(fn func()) ServerOption {
	if fn == nil {
		panic("troupe: BeforeStop: nil function")
	}
	return serverOptionFunc(func(o *serverOptions) { o.beforeStop = fn })
}

func buildServerOptions(opts []ServerOption) serverOptions {
	var o serverOptions
	for _, opt := range opts {
		opt.applyServer(&o)
	}
	if o.drainTimeout == 0 {
		o.drainTimeout = DefaultDrainTimeout
	}
	return o
}

// beforeStopHook gives what runs the hook, or nil when there is none. It
// runs on an adapter's own goroutine, where nothing else would recover a
// panic or see a runtime.Goexit. It sets *err itself, in a deferred call,
// rather than return it: after a Goexit nothing it returned would arrive,
// nor a panic that followed the Goexit.
func (o *serverOptions) beforeStopHook(server string) func(err *error) {
	if o.beforeStop == nil {
		return nil
	}
	return func(err *error) {
		defer func() { // also after a Goexit
			if *err != nil {
				*err = fmt.Errorf("troupe: %s BeforeStop hook: %w", server, *err)
			}
		}()
		guarded(err, errCalledGoexit, func() error { o.beforeStop(); return nil })
	}
}
