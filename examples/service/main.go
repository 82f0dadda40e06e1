// Command service is a small service run by troupe: an HTTP server with a
// page and a slow endpoint (so that draining is visible), a gRPC server with
// the standard health service, a cache that warms up before the servers
// start, an admin server with /livez and /readyz, a ticker that logs work,
// the signal handler, and systemd's notify protocol. It needs no setup:
//
//	go run ./examples/service
//
// then, in another terminal, curl localhost:8080/slow and press Ctrl-C in
// the first: the slow request completes before the process exits. Press
// Ctrl-C twice to exit at once. curl localhost:8081/readyz?verbose shows
// each actor's state; under Kubernetes, run it with -stop-delay 5s (see
// the README's "Running in production").
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
	adminAddr       string
	warmup          time.Duration
	stopDelay       time.Duration
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
	fs.StringVar(&cfg.adminAddr, "admin-addr", "127.0.0.1:8081", "listen address of /livez and /readyz")
	fs.DurationVar(&cfg.warmup, "warmup", 500*time.Millisecond, "how long the cache takes to warm up before the servers start")
	fs.DurationVar(&cfg.stopDelay, "stop-delay", 0, "how long to keep serving, not ready, after SIGTERM (a few seconds under Kubernetes)")
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

// build listens on every address before anything starts, so that a port
// in use is reported at once, with the address, and nothing runs. Under
// systemd socket activation the sockets come from systemd instead.
func build(cfg config, logger *slog.Logger) (*troupe.Group, error) {
	sockets, err := troupe.SystemdSockets()
	if err != nil {
		return nil, err
	}
	var lns []net.Listener
	listen := func(name, what, addr string) (net.Listener, error) {
		ln, err := sockets.Listen(name, "tcp", addr)
		if err != nil {
			for _, open := range lns {
				open.Close()
			}
			return nil, fmt.Errorf("cannot listen for %s: %w", what, err)
		}
		lns = append(lns, ln)
		return ln, nil
	}
	httpLn, err := listen("http", "HTTP", cfg.httpAddr)
	if err != nil {
		return nil, err
	}
	grpcLn, err := listen("grpc", "gRPC", cfg.grpcAddr)
	if err != nil {
		return nil, err
	}
	adminLn, err := listen("admin", "the probes", cfg.adminAddr)
	if err != nil {
		return nil, err
	}
	logger.Info("listening", "http", httpLn.Addr().String(), "grpc", grpcLn.Addr().String(), "admin", adminLn.Addr().String())

	g := &troupe.Group{Logger: logger, ShutdownTimeout: cfg.shutdownTimeout, StopDelay: cfg.stopDelay}
	drain := troupe.DrainTimeout(cfg.drainTimeout)

	g.Add(troupe.Signals()).Name("signals")
	g.Add(troupe.SystemdNotify(g)).Name("systemd")

	// The probes answer from the start, and until the servers have
	// drained: the admin server starts first and stops last.
	g.Add(troupe.HTTPServer(&http.Server{Handler: g.HealthHandler()}, troupe.Listener(adminLn), drain)).Name("admin").StopAfter("http", "grpc")

	c := &cache{warmup: cfg.warmup, warm: make(chan struct{}), logger: logger}
	g.Go(c.run).Name("cache").ReadyWhen(c.warmed)

	g.Add(troupe.HTTPServer(&http.Server{Handler: routes(cfg, logger)}, troupe.Listener(httpLn), drain)).Name("http").StartAfter("cache")

	grpcSrv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(grpcSrv, hs)
	g.Add(troupe.GRPCServer(grpcSrv, grpcLn, drain, troupe.BeforeStop(hs.Shutdown))).Name("grpc").StartAfter("cache")

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

// cache stands for what a service loads before it can serve: the servers
// start after it is warm.
type cache struct {
	warmup time.Duration
	warm   chan struct{}
	logger *slog.Logger
}

func (c *cache) run(ctx context.Context) error {
	select {
	case <-time.After(c.warmup):
		c.logger.Info("cache warmed", "actor", "cache")
		close(c.warm)
	case <-ctx.Done():
		return nil
	}
	<-ctx.Done()
	return nil
}

func (c *cache) warmed(ctx context.Context) error {
	select {
	case <-c.warm:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
