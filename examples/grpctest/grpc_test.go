package grpctest_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oklog/run"
	"github.com/troupe-go/troupe"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/emptypb"
)

// holdService is a hand-written gRPC service: Slow is a unary RPC that
// waits for the test, Hold a bidi stream whose handler blocks in Recv.
type holdService struct {
	entered chan string
	release chan struct{}
}

var holdDesc = grpc.ServiceDesc{
	ServiceName: "troupe.test.Hold",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Slow",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var in emptypb.Empty
			if err := dec(&in); err != nil {
				return nil, err
			}
			s := srv.(*holdService)
			s.entered <- "slow"
			<-s.release
			return &emptypb.Empty{}, nil
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Hold",
		ServerStreams: true,
		ClientStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			srv.(*holdService).entered <- "hold"
			var in emptypb.Empty
			return stream.RecvMsg(&in) // blocks until the client sends, or the server stops
		},
	}},
}

// recordingServer is a real *grpc.Server that notes the stop calls in order.
type recordingServer struct {
	*grpc.Server
	mu    sync.Mutex
	calls []string
}

func (s *recordingServer) note(call string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call)
}

func (s *recordingServer) GracefulStop() { s.note("GracefulStop"); s.Server.GracefulStop() }
func (s *recordingServer) Stop()         { s.note("Stop"); s.Server.Stop() }

func (s *recordingServer) stopCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

type grpcFixture struct {
	srv    *recordingServer
	health *health.Server
	hold   *holdService
	ln     net.Listener
	conn   *grpc.ClientConn
}

func newGRPCFixture(t *testing.T) *grpcFixture {
	t.Helper()
	f := &grpcFixture{
		srv:    &recordingServer{Server: grpc.NewServer()},
		health: health.NewServer(),
		hold:   &holdService{entered: make(chan string, 4), release: make(chan struct{})},
		ln:     listen(t),
	}
	healthpb.RegisterHealthServer(f.srv, f.health)
	f.srv.RegisterService(&holdDesc, f.hold)
	conn, err := grpc.NewClient(f.ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	f.conn = conn
	t.Cleanup(func() { conn.Close() })
	return f
}

func (f *grpcFixture) slow(ctx context.Context) error {
	return f.conn.Invoke(ctx, "/troupe.test.Hold/Slow", &emptypb.Empty{}, &emptypb.Empty{})
}

func TestGRPCInFlightUnaryCompletesDuringGracefulStop(t *testing.T) {
	f := newGRPCFixture(t)
	hookEntered, hookRelease := make(chan struct{}), make(chan struct{})
	var g troupe.Group
	g.Add(troupe.GRPCServer(f.srv, f.ln, troupe.BeforeStop(func() {
		f.srv.note("BeforeStop")
		f.health.Shutdown() // every service NOT_SERVING
		close(hookEntered)
		<-hookRelease
	}))).Name("grpc")
	fire, ran := runUntilFired(&g, nil)

	ctx := context.Background()
	rpc := make(chan error, 1)
	go func() { rpc <- f.slow(ctx) }()
	<-f.hold.entered
	close(fire)

	<-hookEntered
	resp, err := healthpb.NewHealthClient(f.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health during the hook: %v %v, want NOT_SERVING", resp, err)
	}
	close(hookRelease)
	close(f.hold.release)
	if err := <-rpc; err != nil {
		t.Errorf("the in-flight RPC failed: %v", err)
	}
	if err := <-ran; err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if want, have := []string{"BeforeStop", "GracefulStop"}, f.srv.stopCalls(); !slices.Equal(want, have) {
		t.Errorf("stop calls: want %v, have %v", want, have)
	}
}

func TestGRPCBlockedStreamIsStoppedAtTheDrainDeadline(t *testing.T) {
	f := newGRPCFixture(t)
	var g troupe.Group
	g.Add(troupe.GRPCServer(f.srv, f.ln, troupe.DrainTimeout(100*time.Millisecond))).Name("grpc")
	fire, ran := runUntilFired(&g, nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := f.conn.NewStream(ctx, &holdDesc.Streams[0], "/troupe.test.Hold/Hold")
	if err != nil {
		t.Fatal(err)
	}
	<-f.hold.entered
	close(fire)
	err = <-ran
	var ae *troupe.ActorError
	if !errors.Is(err, troupe.ErrDrainTimeout) || !errors.As(err, &ae) || ae.Actor != "grpc" {
		t.Fatalf("Run() = %v, want grpc's drain timeout", err)
	}
	if want, have := []string{"GracefulStop", "Stop"}, f.srv.stopCalls(); !slices.Equal(want, have) {
		t.Errorf("stop calls: want %v, have %v", want, have)
	}
	if err := stream.RecvMsg(&emptypb.Empty{}); err == nil {
		t.Error("the stream is still open after Stop")
	}
}

func TestGRPCStopBeforeServeIsSafe(t *testing.T) {
	f := newGRPCFixture(t)
	execute, interrupt := troupe.GRPCServer(f.srv, f.ln)
	interrupt(nil)
	if err := execute(); err != nil {
		t.Fatalf("execute() = %v, want nil", err)
	}
	if c, err := net.Dial("tcp", f.ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener is still open")
	}
}

func TestGRPCServeErrorIsReturned(t *testing.T) {
	f := newGRPCFixture(t)
	f.ln.Close()
	execute, _ := troupe.GRPCServer(f.srv, f.ln)
	if err := execute(); err == nil {
		t.Fatal("execute() = nil on a closed listener")
	}
}

// A panic in the BeforeStop hook runs on the adapter's own goroutine; it
// becomes the actor's error, and the graceful stop still goes on.
func TestGRPCBeforeStopPanicIsAnErrorAndTheStopGoesOn(t *testing.T) {
	f := newGRPCFixture(t)
	var g troupe.Group
	g.Add(troupe.GRPCServer(f.srv, f.ln, troupe.BeforeStop(func() { panic("hook broke") }))).Name("grpc")
	fire, ran := runUntilFired(&g, nil)

	rpc := make(chan error, 1)
	go func() { rpc <- f.slow(context.Background()) }()
	<-f.hold.entered
	close(fire)
	close(f.hold.release)
	if err := <-rpc; err != nil {
		t.Errorf("the in-flight RPC failed: %v", err)
	}
	err := <-ran
	var pe *troupe.PanicError
	var ae *troupe.ActorError
	if !errors.As(err, &pe) || pe.Value != "hook broke" || !errors.As(err, &ae) || ae.Actor != "grpc" {
		t.Fatalf("Run() = %v, want grpc's hook panic", err)
	}
	if want, have := []string{"GracefulStop"}, f.srv.stopCalls(); !slices.Equal(want, have) {
		t.Errorf("stop calls: want %v, have %v", want, have)
	}
}

// Other code may stop the server (an admin RPC calling Stop, say). Serve
// then returns, but execute must still wait until the server has stopped.
func TestGRPCServerStoppedByOthersStillStopsBeforeExecuteReturns(t *testing.T) {
	f := newGRPCFixture(t)
	execute, interrupt := troupe.GRPCServer(f.srv, f.ln)
	executed := make(chan error, 1)
	go func() { executed <- execute() }()
	rpc := make(chan error, 1)
	go func() { rpc <- f.slow(context.Background()) }()
	<-f.hold.entered
	stopped := make(chan struct{})
	go func() { f.srv.Server.GracefulStop(); close(stopped) }()
	select {
	case err := <-executed:
		t.Fatalf("execute() = %v while an RPC was still in flight", err)
	case <-time.After(50 * time.Millisecond): // a window for a wrong early return, not synchronisation
	}
	close(f.hold.release)
	if err := <-rpc; err != nil {
		t.Errorf("the in-flight RPC failed: %v", err)
	}
	if err := <-executed; err != nil {
		t.Errorf("execute() = %v, want nil", err)
	}
	<-stopped
	interrupt(nil) // the group's interrupt still comes, later; it must be harmless
}

// The pair works in a plain run.Group, with a real grpc server.
func TestGRPCServerPairWorksInARunGroup(t *testing.T) {
	f := newGRPCFixture(t)
	var g run.Group
	g.Add(troupe.GRPCServer(f.srv, f.ln))
	done := errors.New("checked health")
	g.Add(func() error {
		resp, err := healthpb.NewHealthClient(f.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		if resp.Status != healthpb.HealthCheckResponse_SERVING {
			return errors.New(resp.Status.String())
		}
		return done
	}, func(error) {})
	if err := g.Run(); !errors.Is(err, done) {
		t.Fatalf("run.Group.Run() = %v, want the health check's result", err)
	}
}

func TestGRPCHealthTurnsNotServingAsTheStopDelayBeginsAndRPCsAreStillServed(t *testing.T) {
	f := newGRPCFixture(t)
	g := troupe.Group{StopDelay: time.Hour}
	hookRan := make(chan struct{})
	g.Add(troupe.GRPCServer(f.srv, f.ln, troupe.BeforeStop(func() {
		f.srv.note("BeforeStop")
		f.health.Shutdown()
		close(hookRan)
	}))).Name("grpc")
	endDelay := errors.New("the test ends the delay")
	fire, ran := runUntilFired(&g, endDelay)
	ctx := context.Background()
	if err := g.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := healthpb.NewHealthClient(f.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before the stop: %v %v", resp, err)
	}

	g.Stop()
	<-hookRan
	resp, err = healthpb.NewHealthClient(f.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health during the stop delay: %v %v, want NOT_SERVING", resp, err)
	}
	rpc := make(chan error, 1)
	go func() { rpc <- f.slow(ctx) }()
	<-f.hold.entered // a new RPC during the delay reaches its handler
	if calls := f.srv.stopCalls(); !slices.Equal(calls, []string{"BeforeStop"}) {
		t.Fatalf("stop calls during the delay: %v, want only BeforeStop", calls)
	}
	close(fire) // a failure ends the delay at once
	close(f.hold.release)
	if err := <-rpc; err != nil {
		t.Fatalf("the RPC begun during the delay failed: %v", err)
	}
	if err := <-ran; !errors.Is(err, endDelay) {
		t.Fatalf("Run() = %v", err)
	}
	if want, have := []string{"BeforeStop", "GracefulStop"}, f.srv.stopCalls(); !slices.Equal(want, have) {
		t.Errorf("stop calls: want %v, have %v (BeforeStop once, before GracefulStop)", want, have)
	}
}
