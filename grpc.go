package troupe

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// GracefulServer is what [GRPCServer] needs of a server; *grpc.Server
// satisfies it, so troupe never imports grpc.
type GracefulServer interface {
	Serve(net.Listener) error
	GracefulStop()
	Stop()
}

// GRPCServer returns an actor that serves srv on ln and stops it gracefully
// when interrupted.
//
// The interrupt runs the [BeforeStop] hook (to mark health NOT_SERVING),
// then calls GracefulStop, which waits for every RPC to finish. Because one
// stream that never ends holds GracefulStop forever, Stop is called when
// [DrainTimeout] passes, and execute then returns an error matching
// [ErrDrainTimeout]. Execute returns only after both have returned. The
// interrupt itself returns at once, so servers stop in parallel even in a
// plain run.Group. An interrupt before Serve is safe: Serve then closes ln
// and returns. [Listener] is ignored here.
func GRPCServer(srv GracefulServer, ln net.Listener, opts ...ServerOption) (execute func() error, interrupt func(error)) {
	if srv == nil || ln == nil {
		return nil, nil
	}
	s := &grpcActor{srv: srv, ln: ln, opts: buildServerOptions(opts), stopping: make(chan struct{}), stopped: make(chan struct{})}
	return s.execute, s.interrupt
}

type grpcActor struct {
	srv      GracefulServer
	ln       net.Listener
	opts     serverOptions
	once     sync.Once
	stopping chan struct{}
	stopped  chan struct{}
	stopErr  error // set before stopped is closed
}

func (s *grpcActor) execute() error {
	err := s.srv.Serve(s.ln)
	select {
	case <-s.stopping:
		// Serve's error after a stop (grpc.ErrServerStopped when the stop
		// came first) is only an echo of it.
		<-s.stopped
		return s.stopErr
	default:
	}
	if err != nil {
		return fmt.Errorf("troupe: grpc server on %s: %w", s.ln.Addr(), err)
	}
	return nil
}

func (s *grpcActor) interrupt(error) {
	s.once.Do(func() {
		close(s.stopping)
		go s.stop()
	})
}

func (s *grpcActor) stop() {
	defer close(s.stopped)
	if s.opts.beforeStop != nil {
		s.opts.beforeStop()
	}
	graceful := make(chan struct{})
	go func() {
		defer close(graceful)
		s.srv.GracefulStop()
	}()
	timer := time.NewTimer(s.opts.drainTimeout)
	defer timer.Stop()
	select {
	case <-graceful:
		return
	case <-timer.C:
	}
	s.srv.Stop()
	<-graceful // Stop ends GracefulStop too; wait so nothing is left running.
	s.stopErr = fmt.Errorf("troupe: grpc graceful stop did not finish within %v; server stopped: %w", s.opts.drainTimeout, ErrDrainTimeout)
}
