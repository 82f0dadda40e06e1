// Command service is a small service run by troupe: an HTTP server with a
// page and a slow endpoint (so that draining is visible), a gRPC server with
// the standard health service, a ticker that logs work, and the signal
// handler. It needs no setup:
//
//	go run ./examples/service
//
// then, in another terminal, curl localhost:8080/slow and press Ctrl-C in
// the first: the slow request completes before the process exits. Press
// Ctrl-C twice to exit at once.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
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

type config struct {
	httpAddr        string
	grpcAddr        string
	slow            time.Duration
	tick            time.Duration
	drainTimeout    time.Duration
	shutdownTimeout time.Duration
	logFormat       string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	var cfg config
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.httpAddr, "http-addr", "127.0.0.1:8080", "HTTP listen address")
	fs.StringVar(&cfg.grpcAddr, "grpc-addr", "127.0.0.1:9090", "gRPC listen address")
	fs.DurationVar(&cfg.slow, "slow", 2*time.Second, "how long /slow takes")
	fs.DurationVar(&cfg.tick, "tick", 10*time.Second, "how often the ticker works")
	fs.DurationVar(&cfg.drainTimeout, "drain-timeout", 20*time.Second, "how long servers may drain")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 25*time.Second, "bound on the whole shutdown")
	fs.StringVar(&cfg.logFormat, "log", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, nil)
	if cfg.logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, nil)
	}
	logger := slog.New(handler)

	g, err := build(cfg, logger)
	if err != nil {
		fmt.Fprintf(stderr, "service: %v\n", err)
		return 1
	}
	err = g.Run()
	code := troupe.ExitCode(err)
	if code != 0 {
		logger.Error("stopped with errors", "error", err)
	}
	return code
}

// build listens on both addresses before anything starts, so that a port
// in use is reported at once, with the address, and nothing runs.
func build(cfg config, logger *slog.Logger) (*troupe.Group, error) {
	httpLn, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen for HTTP on %s: %w", cfg.httpAddr, err)
	}
	grpcLn, err := net.Listen("tcp", cfg.grpcAddr)
	if err != nil {
		httpLn.Close()
		return nil, fmt.Errorf("cannot listen for gRPC on %s: %w", cfg.grpcAddr, err)
	}
	logger.Info("listening", "http", httpLn.Addr().String(), "grpc", grpcLn.Addr().String())

	g := &troupe.Group{Logger: logger, ShutdownTimeout: cfg.shutdownTimeout}
	drain := troupe.DrainTimeout(cfg.drainTimeout)

	g.Add(troupe.Signals()).Name("signals")

	g.Add(troupe.HTTPServer(&http.Server{Handler: routes(cfg, logger)}, troupe.Listener(httpLn), drain)).Name("http")

	grpcSrv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(grpcSrv, hs)
	g.Add(troupe.GRPCServer(grpcSrv, grpcLn, drain, troupe.BeforeStop(hs.Shutdown))).Name("grpc")

	work := 0
	g.Add(troupe.Ticker(cfg.tick, func(ctx context.Context) error {
		work++
		logger.Info("ticker did some work", "actor", "ticker", "run", work)
		return nil
	}, troupe.ContinueOnError(logger.With("actor", "ticker")))).Name("ticker")

	// Stands for a store the servers write to: closed only after both
	// servers have stopped.
	g.Add(troupe.CloseFunc(func() error {
		logger.Info("store flushed and closed", "actor", "store")
		return nil
	})).Name("store").StopAfter("http", "grpc")
	return g, nil
}

func routes(cfg config, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "troupe example service: try /slow, then stop me with Ctrl-C")
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		logger.Info("slow request started", "actor", "http", "takes", cfg.slow)
		select {
		case <-time.After(cfg.slow):
			fmt.Fprintln(w, "slow request done")
		case <-r.Context().Done():
			// Only at the drain deadline: the request is being cut off.
			http.Error(w, "cancelled", http.StatusServiceUnavailable)
		}
	})
	return mux
}
