// Command quickstart is the README's quick start: an HTTP server, a gRPC
// server, a background job and the signal handler, run as one group.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/troupe-go/troupe"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	g := troupe.Group{Logger: logger, ShutdownTimeout: 25 * time.Second}

	// Stop on SIGINT or SIGTERM; a second one exits at once.
	g.Add(troupe.Signals()).Name("signals")

	// HTTP: drains in-flight requests for up to 20s when the group stops.
	httpSrv := &http.Server{Addr: "127.0.0.1:8080", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	})}
	g.Add(troupe.HTTPServer(httpSrv)).Name("http")

	// gRPC: health goes NOT_SERVING, then GracefulStop, then Stop at the deadline.
	grpcLn, err := net.Listen("tcp", "127.0.0.1:9090")
	if err != nil {
		logger.Error("cannot listen", "error", err)
		os.Exit(1)
	}
	grpcSrv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(grpcSrv, hs)
	g.Add(troupe.GRPCServer(grpcSrv, grpcLn, troupe.BeforeStop(hs.Shutdown))).Name("grpc")

	// A background job, every minute; its context is cancelled on shutdown.
	g.Add(troupe.Ticker(time.Minute, func(ctx context.Context) error {
		logger.Info("reporting usage")
		return nil
	}, troupe.ContinueOnError(logger.With("actor", "usage")))).Name("usage")

	// Flushed only after both servers have stopped serving.
	g.Add(troupe.CloseFunc(func() error {
		logger.Info("flushed")
		return nil
	})).Name("flush").StopAfter("http", "grpc")

	err = g.Run()
	code := troupe.ExitCode(err) // 0 after a clean stop on a signal
	if code != 0 {
		logger.Error("stopped with errors", "error", err)
	}
	os.Exit(code)
}
