package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/troupe-go/troupe"
)

// StartAfter starts the server only once the cache it serves from is
// ready; ReadyWhen says when that is.
func ExampleActor_StartAfter() {
	var g troupe.Group
	synced := make(chan struct{})
	g.Go(func(ctx context.Context) error {
		fmt.Println("cache: loading")
		close(synced)
		<-ctx.Done()
		return nil
	}).Name("cache").ReadyWhen(func(ctx context.Context) error {
		<-synced
		return nil
	})
	g.Go(func(ctx context.Context) error {
		fmt.Println("server: started after the cache was ready")
		return nil // returns at once: the example ends
	}).Name("server").StartAfter("cache")
	fmt.Println("Run:", g.Run())
	// Output:
	// cache: loading
	// server: started after the cache was ready
	// Run: <nil>
}

// A readiness check that fails stops the group, and what starts after the
// actor never does.
func ExampleActor_ReadyWhen() {
	var g troupe.Group
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("db").
		ReadyWhen(func(ctx context.Context) error { return errors.New("connection refused") })
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("api").StartAfter("db")
	err := g.Run()
	fmt.Println(err)
	var ns *troupe.NotStartedError
	fmt.Println(errors.As(err, &ns), ns.Actors)
	// Output:
	// troupe: actor "db": readiness check: connection refused
	// troupe: never started: "api"
	// true [api]
}

// NotStartedError lists what a stop during the start left unstarted;
// ExitCode looks past it.
func ExampleNotStartedError() {
	var g troupe.Group
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("cache").
		ReadyWhen(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("api").StartAfter("cache")
	g.Stop() // before Run: Run starts nothing
	err := g.Run()
	fmt.Println(err)
	fmt.Println("exit code", troupe.ExitCode(err))
	// Output:
	// troupe: stop requested by Group.Stop
	// exit code 0
}

// Stop asks a running group to stop from any goroutine, as a signal
// does: a clean stop.
func ExampleGroup_Stop() {
	var g troupe.Group
	g.Go(func(ctx context.Context) error {
		<-ctx.Done()
		fmt.Println("stopped:", context.Cause(ctx))
		return nil
	}).Name("worker")
	go func() {
		g.WaitReady(context.Background())
		g.Stop()
	}()
	err := g.Run()
	fmt.Println("Run:", err, "exit code", troupe.ExitCode(err))
	// Output:
	// stopped: troupe: stop requested by Group.Stop
	// Run: troupe: stop requested by Group.Stop exit code 0
}

// WaitReady waits, from any goroutine, until every actor is ready: here,
// until the server's listener is bound.
func ExampleGroup_WaitReady() {
	var g troupe.Group
	srv := &http.Server{Addr: "127.0.0.1:0"}
	g.Add(troupe.HTTPServer(srv)).Name("http")
	go func() {
		if err := g.WaitReady(context.Background()); err == nil {
			fmt.Println("state:", g.State(), "not ready:", g.NotReady())
		}
		g.Stop()
	}()
	g.Run()
	fmt.Println("state:", g.State())
	// Output:
	// state: ready not ready: []
	// state: stopped
}

// State and NotReady tell how far the group is, from any goroutine.
func ExampleGroup_State() {
	var g troupe.Group
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("cache")
	fmt.Println(g.State(), g.NotReady())
	g.Stop()
	g.Run()
	fmt.Println(g.State(), g.NotReady())
	// Output:
	// starting [cache]
	// stopped [cache]
}

// HealthHandler answers the probes: /readyz follows the group's state.
func ExampleGroup_HealthHandler() {
	var g troupe.Group
	drained := make(chan struct{})
	g.Add(func() error { <-drained; return nil }, func(error) {}).Name("worker") // stops when drained
	health := g.HealthHandler()                                                  // mux.Handle("/readyz", health); mux.Handle("/livez", health)
	probe := func(path string) {
		rec := httptest.NewRecorder()
		health.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body, _ := io.ReadAll(rec.Body)
		fmt.Printf("%s %d %s", path, rec.Code, body)
	}
	probe("/readyz")
	ran := make(chan error)
	go func() { ran <- g.Run() }()
	g.WaitReady(context.Background())
	probe("/readyz?verbose")
	g.Stop()
	probe("/readyz")
	probe("/livez")
	close(drained)
	<-ran
	probe("/livez")
	// Output:
	// /readyz 503 starting; not ready: worker
	// /readyz?verbose 200 ready
	// worker: ready
	// /readyz 503 stopping: troupe: stop requested by Group.Stop
	// /livez 200 alive
	// /livez 503 stopped
}

// StopDelay keeps a ready group serving for a while after a stop request,
// reporting not ready, so that load balancers can take it out first.
func ExampleGroup_stopDelay() {
	g := troupe.Group{StopDelay: 50 * time.Millisecond, ShutdownTimeout: 30 * time.Second}
	var asked time.Time
	g.Go(func(ctx context.Context) error {
		<-ctx.Done()
		fmt.Println("interrupted after the delay:", time.Since(asked) >= 50*time.Millisecond)
		return nil
	}).Name("server")
	go func() {
		g.WaitReady(context.Background())
		asked = time.Now()
		g.Stop()
	}()
	g.Run()
	// Output:
	// interrupted after the delay: true
}

// String gives the name health reports.
func ExampleState_String() {
	fmt.Println(troupe.Starting, troupe.Ready, troupe.Stopping, troupe.Stopped)
	// Output: starting ready stopping stopped
}
