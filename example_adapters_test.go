package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/oklog/run"
	"github.com/troupe-go/troupe"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// An HTTP server that drains its in-flight requests when the group stops.
func ExampleHTTPServer() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})}

	var g troupe.Group
	g.Add(troupe.HTTPServer(srv, troupe.Listener(ln), troupe.DrainTimeout(10*time.Second))).Name("http")
	g.Go(func(ctx context.Context) error {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(string(body))
		return nil // a clean return stops the group
	}).Name("client")
	fmt.Println("Run returned", g.Run())
	// Output:
	// hello
	// Run returned <nil>
}

// A gRPC server whose health turns NOT_SERVING before it stops gracefully.
func ExampleGRPCServer() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)

	var g troupe.Group
	g.Add(troupe.GRPCServer(srv, ln, troupe.BeforeStop(hs.Shutdown))).Name("grpc")
	g.Go(func(ctx context.Context) error {
		conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		fmt.Println("health:", resp.Status)
		return nil
	}).Name("client")
	fmt.Println("Run returned", g.Run())
	// Output:
	// health: SERVING
	// Run returned <nil>
}

// A ticker whose error stops the group; ContinueOnError would log it and go on.
func ExampleTicker() {
	var g troupe.Group
	runs := 0
	done := errors.New("three runs done")
	g.Add(troupe.Ticker(10*time.Millisecond, func(ctx context.Context) error {
		runs++
		fmt.Println("run", runs)
		if runs == 3 {
			return done
		}
		return nil
	}, troupe.RunAtStart())).Name("report")
	fmt.Println(g.Run())
	// Output:
	// run 1
	// run 2
	// run 3
	// troupe: actor "report": three runs done
}

type resource struct{ name string }

func (r resource) Close() error { fmt.Println("closed", r.name); return nil }

// A closer waits until it is interrupted, then closes.
func ExampleCloser() {
	var g troupe.Group
	g.Add(troupe.Closer(resource{"db"})).Name("db")
	g.Go(func(ctx context.Context) error { return nil }).Name("job")
	g.Run()
	// Output: closed db
}

// The adapters' pairs work in a plain run.Group too.
func ExampleFunc() {
	var g run.Group
	g.Add(troupe.Func(func(ctx context.Context) error {
		<-ctx.Done()
		fmt.Println("worker stopped")
		return ctx.Err()
	}))
	g.Add(func() error { return errors.New("done") }, func(error) {})
	fmt.Println(g.Run())
	// Output:
	// worker stopped
	// done
}

// A parent context stops the group with its cause.
func ExampleContext() {
	ctx, cancel := context.WithCancelCause(context.Background())
	var g troupe.Group
	g.Add(troupe.Context(ctx)).Name("parent")
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("worker")
	cancel(errors.New("test over"))
	fmt.Println(g.Run())
	// Output: troupe: actor "parent": test over
}
