package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/oklog/run"
	"github.com/troupe-go/troupe"
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

// GRPCServer takes any server with Serve, GracefulStop and Stop, and
// *grpc.Server is one; with grpc the wiring is
//
//	srv := grpc.NewServer()
//	hs := health.NewServer()
//	healthpb.RegisterHealthServer(srv, hs)
//	g.Add(troupe.GRPCServer(srv, ln, troupe.BeforeStop(hs.Shutdown))).Name("grpc")
//
// So that this example runs without grpc, a small line server stands in for
// it, and the BeforeStop hook prints where the health service would turn
// NOT_SERVING.
func ExampleGRPCServer() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &lineServer{line: "hello over tcp"}

	var g troupe.Group
	g.Add(troupe.GRPCServer(srv, ln, troupe.BeforeStop(func() {
		fmt.Println("health: NOT_SERVING")
	}))).Name("grpc")
	g.Go(func(ctx context.Context) error {
		line, err := readLine(ln.Addr().String())
		fmt.Print(line)
		return err
	}).Name("client")
	fmt.Println("Run returned", g.Run())
	// Output:
	// hello over tcp
	// health: NOT_SERVING
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

// A parent context stops the group. Its plain cancellation, such as
// signal.NotifyContext's, is a requested stop, and ExitCode maps it to 0.
func ExampleContext() {
	ctx, cancel := context.WithCancel(context.Background())
	var g troupe.Group
	g.Add(troupe.Context(ctx)).Name("parent")
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("worker")
	cancel()
	err := g.Run()
	fmt.Println(err)
	fmt.Println(errors.Is(err, troupe.ErrStopRequested), troupe.ExitCode(err))
	// Output:
	// troupe: actor "parent": parent context cancelled: context canceled
	// true 0
}

// A parent context cancelled with a cause of its own stops the group with
// that cause, as a failure.
func ExampleContext_cause() {
	ctx, cancel := context.WithCancelCause(context.Background())
	var g troupe.Group
	g.Add(troupe.Context(ctx)).Name("parent")
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("worker")
	cancel(errors.New("lease lost"))
	err := g.Run()
	fmt.Println(err)
	fmt.Println(troupe.ExitCode(err))
	// Output:
	// troupe: actor "parent": lease lost
	// 1
}

// Jitter spreads the runs, the first one included, so that a fleet started
// together does not call the same backend at the same moment.
func ExampleJitter() {
	var g troupe.Group
	runs := 0
	g.Add(troupe.Ticker(10*time.Millisecond, func(ctx context.Context) error {
		runs++
		fmt.Println("refreshed", runs)
		if runs == 2 {
			return errors.New("done")
		}
		return nil
	}, troupe.RunAtStart(), troupe.Jitter(5*time.Millisecond))).Name("refresh")
	fmt.Println(g.Run())
	// Output:
	// refreshed 1
	// refreshed 2
	// troupe: actor "refresh": done
}

// ContinueOnError logs a run's error and goes on to the next tick, where
// by default the error would stop the group.
func ExampleContinueOnError() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // for a stable output
			}
			return a
		},
	}))
	var g troupe.Group
	runs := 0
	recovered := make(chan struct{})
	g.Add(troupe.Ticker(time.Millisecond, func(ctx context.Context) error {
		runs++
		if runs < 3 {
			return fmt.Errorf("attempt %d: backend unavailable", runs)
		}
		if runs == 3 {
			close(recovered)
		}
		return nil
	}, troupe.ContinueOnError(logger.With("actor", "report")))).Name("report")
	g.Go(func(ctx context.Context) error {
		<-recovered
		return nil
	}).Name("until-recovered")
	g.Run()
	// Output:
	// level=ERROR msg="ticker run failed; continuing" actor=report error="attempt 1: backend unavailable"
	// level=ERROR msg="ticker run failed; continuing" actor=report error="attempt 2: backend unavailable"
}

// A server whose requests overrun DrainTimeout is cut, and execute's error
// matches ErrDrainTimeout.
func ExampleDrainTimeout() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	entered := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // a request that takes as long as it is allowed
	})}

	var g troupe.Group
	g.Add(troupe.HTTPServer(srv, troupe.Listener(ln), troupe.DrainTimeout(50*time.Millisecond))).Name("http")
	go http.Get("http://" + ln.Addr().String() + "/")
	g.Go(func(ctx context.Context) error { <-entered; return nil }).Name("deploy")
	err := g.Run()
	fmt.Println(errors.Is(err, troupe.ErrDrainTimeout))
	fmt.Println(err)
	// Output:
	// true
	// troupe: actor "http": http drain did not finish within 50ms; requests cut: troupe: drain deadline passed
}

// TLS serves HTTPS. With certificate files it is TLS("cert.pem",
// "key.pem"); with empty names the server's TLSConfig supplies the
// certificate, as here.
func ExampleTLS() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	config, client := selfSignedPair()
	srv := &http.Server{TLSConfig: config, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello over %s", map[bool]string{true: "TLS", false: "plain HTTP"}[r.TLS != nil])
	})}

	var g troupe.Group
	g.Add(troupe.HTTPServer(srv, troupe.Listener(ln), troupe.TLS("", ""))).Name("https")
	g.Go(func(ctx context.Context) error {
		defer client.CloseIdleConnections()
		resp, err := client.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(string(body))
		return nil
	}).Name("client")
	fmt.Println("Run returned", g.Run())
	// Output:
	// hello over TLS
	// Run returned <nil>
}

// CloseFunc runs a function at the shutdown, here to flush a buffer once
// the worker that fills it has stopped.
func ExampleCloseFunc() {
	var g troupe.Group
	var buffered []string
	g.Go(func(ctx context.Context) error {
		buffered = append(buffered, "event")
		<-ctx.Done()
		return nil
	}).Name("worker")
	g.Add(troupe.CloseFunc(func() error {
		fmt.Println("flushed", len(buffered), "event")
		return nil
	})).Name("flush").StopAfter("worker")
	g.Go(func(ctx context.Context) error { return nil }).Name("job")
	g.Run()
	// Output: flushed 1 event
}

// BeforeStop runs as the server begins to stop, before it refuses new
// connections: the place to turn a health check or a readiness flag off.
func ExampleBeforeStop() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	var g troupe.Group
	g.Add(troupe.HTTPServer(&http.Server{}, troupe.Listener(ln), troupe.BeforeStop(func() {
		fmt.Println("not ready any more")
	}))).Name("http")
	g.Go(func(ctx context.Context) error {
		// A server stopped before it served has nothing to stop: wait
		// until it answers.
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}).Name("client")
	fmt.Println("Run returned", g.Run())
	// Output:
	// not ready any more
	// Run returned <nil>
}
