package troupe

import (
	"fmt"
	"net"
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
// when interrupted. It panics if srv or ln is nil.
//
// The interrupt runs the [BeforeStop] hook (to mark health NOT_SERVING),
// then calls GracefulStop, which waits for every RPC to finish. Because one
// stream that never ends holds GracefulStop forever, Stop is called when
// [DrainTimeout] passes, and execute then returns an error matching
// [ErrDrainTimeout]. The interrupt itself returns at once, so servers stop
// in parallel even in a plain run.Group.
//
// Execute returns only once the server has stopped, whoever stopped it: if
// Serve returns on its own (it failed, or other code stopped the server),
// execute stops the server gracefully itself before returning. An
// interrupt before execute begins is safe: it stops the server and closes
// ln, and execute then returns nil. If other code stops the server before
// execute has called Serve, Serve's error (grpc.ErrServerStopped) is
// execute's error: troupe does not import grpc to tell it from a failure.
// [Listener] is ignored here. The pair runs once: a second call of execute
// returns an error at once.
func GRPCServer(srv GracefulServer, ln net.Listener, opts ...ServerOption) (execute func() error, interrupt func(error)) {
	if isNil(srv) {
		panic("troupe: GRPCServer: nil server")
	}
	if isNil(ln) {
		panic("troupe: GRPCServer: nil listener")
	}
	s := &grpcActor{srv: srv, ln: ln, opts: buildServerOptions(opts), stop: newServerStop()}
	return s.execute, s.interrupt
}

type grpcActor struct {
	srv  GracefulServer
	ln   net.Listener
	opts serverOptions
	stop serverStop
}

func (s *grpcActor) execute() error {
	if began, err := s.stop.begin(); !began {
		return err
	}
	err := s.srv.Serve(s.ln)
	mine, asked := s.stop.claim()
	if mine {
		s.stopServer()
	}
	stopErr := s.stop.wait()
	if asked || err == nil {
		// Serve's error after a stop (grpc.ErrServerStopped when the stop
		// came before Serve) is only an echo of it.
		return stopErr
	}
	return join(fmt.Errorf("troupe: grpc server on %s: %w", s.ln.Addr(), err), stopErr)
}

func (s *grpcActor) interrupt(cause error) {
	if link, ok := cause.(*adapterLink); ok {
		// Ready at start: its listener was bound before.
		link.notice.onBegin(func() { s.stop.hookEarly(s.opts.beforeStopHook("grpc")) })
		return
	}
	switch early, start := s.stop.interrupt(cause); {
	case early:
		s.srv.Stop()
		s.ln.Close()
	case start:
		go s.stopServer()
	}
}

// stopServer stops the server gracefully, and at the drain deadline at
// once.
func (s *grpcActor) stopServer() {
	timer := time.NewTimer(s.opts.drainTimeout)
	defer timer.Stop()
	hookErr := s.stop.hook(s.opts.beforeStopHook("grpc"))
	graceful := make(chan struct{})
	go func() {
		defer close(graceful)
		s.srv.GracefulStop()
	}()
	select {
	case <-graceful:
		s.stop.finish(hookErr)
		return
	case <-timer.C:
	}
	s.srv.Stop()
	<-graceful // Stop ends GracefulStop too; wait so nothing is left running.
	s.stop.finish(join(hookErr,
		fmt.Errorf("troupe: grpc graceful stop did not finish within %v; server stopped: %w", s.opts.drainTimeout, ErrDrainTimeout)))
}
