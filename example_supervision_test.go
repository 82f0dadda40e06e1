package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/troupe-go/troupe"
)

// A consumer whose connection drops is restarted with a fresh pair for
// each attempt, until it says it must not be.
func ExampleRestart() {
	attempt := 0
	consumer := func() (func() error, func(error)) {
		attempt++
		n := attempt
		return func() error {
			fmt.Println("attempt", n)
			if n < 3 {
				return errors.New("connection reset")
			}
			return fmt.Errorf("queue deleted: %w", troupe.ErrNoRestart)
		}, func(error) {}
	}
	var g troupe.Group
	g.Add(troupe.Restart(consumer, troupe.Backoff(time.Millisecond, 10*time.Millisecond, 2))).Name("consumer")
	fmt.Println(g.Run())
	// Output:
	// attempt 1
	// attempt 2
	// attempt 3
	// troupe: actor "consumer": queue deleted: troupe: do not restart
}

// Group.Restart logs each restart through the group's Logger, with the
// actor's name; the pair that Restart returns is silent.
func ExampleGroup_Restart() {
	g := troupe.Group{Logger: exampleLogger()}
	attempt := 0
	g.Restart(func() (func() error, func(error)) {
		attempt++
		n := attempt
		return func() error {
			if n == 1 {
				return errors.New("connection reset")
			}
			return nil // done: a nil return ends it
		}, func(error) {}
	}, troupe.Backoff(time.Millisecond, time.Millisecond, 1), troupe.BackoffJitter(0)).Name("consumer").OneShot()
	g.Run()
	// Output:
	// level=INFO msg="actor started" actor=consumer
	// level=WARN msg="attempt ended; restarting" actor=consumer attempt=1 error="connection reset" wait=1ms
	// level=INFO msg="actor returned" actor=consumer
	// level=INFO msg="shutdown begun" actor=consumer cause="troupe: actor returned"
	// level=INFO msg="stop stage done" stage=1 stages=1
	// level=INFO msg="group stopped" stragglers=0
}

// MaxAttempts gives up after so many failures in a row; HealthyAfter is
// how long a run must last to start the count afresh.
func ExampleMaxAttempts() {
	attempts := 0
	execute, _ := troupe.Restart(func() (func() error, func(error)) {
		return func() error { attempts++; return errors.New("refused") }, func(error) {}
	}, troupe.MaxAttempts(3), troupe.HealthyAfter(time.Minute), troupe.Backoff(time.Millisecond, time.Millisecond, 1))
	fmt.Println(execute())
	fmt.Println(attempts, "attempts")
	// Output:
	// troupe: restart: gave up after 3 attempts in a row: refused
	// 3 attempts
}

// RestartOnNil restarts a job that returned nil too: a loop that must
// always run, whatever its runs return.
func ExampleRestartOnNil() {
	runs := 0
	execute, _ := troupe.Restart(func() (func() error, func(error)) {
		return func() error {
			runs++
			if runs == 3 {
				return troupe.ErrNoRestart
			}
			return nil
		}, func(error) {}
	}, troupe.RestartOnNil(), troupe.Backoff(time.Millisecond, time.Millisecond, 1))
	fmt.Println(execute(), runs)
	// Output: troupe: do not restart 3
}

// Backoff, BackoffJitter and HealthyAfter shape the waits between
// attempts: here 100ms, 200ms, 400ms and so on up to 30s, each ±50% at
// random, and back to 100ms after five healthy minutes.
func ExampleBackoff() {
	var g troupe.Group
	g.Restart(connectUpstream,
		troupe.Backoff(100*time.Millisecond, 30*time.Second, 2),
		troupe.BackoffJitter(0.5),
		troupe.HealthyAfter(5*time.Minute),
	).Name("upstream")
}

// connectUpstream stands for a factory of the pairs that hold a connection.
func connectUpstream() (func() error, func(error)) {
	return troupe.Func(func(ctx context.Context) error { <-ctx.Done(); return nil })
}

// A group run as one actor of another: the workers stop with the service,
// and a worker's failure stops the service, its error naming the path.
func ExampleGroup_AddGroup() {
	var workers troupe.Group
	workers.Go(func(ctx context.Context) error {
		<-ctx.Done()
		fmt.Println("consumer-1 stopped")
		return nil
	}).Name("consumer-1")
	workers.Go(func(ctx context.Context) error {
		return errors.New("poison message")
	}).Name("consumer-2")

	var service troupe.Group
	service.AddGroup(&workers).Name("workers")
	service.Go(func(ctx context.Context) error {
		<-ctx.Done()
		fmt.Println("http stopped")
		return nil
	}).Name("http")
	err := service.Run()
	fmt.Println(err)
	// Unordered output:
	// consumer-1 stopped
	// http stopped
	// troupe: actor "workers": actor "consumer-2": poison message
}

// Serve runs one pair under a context, for a main built on errgroup or
// conc rather than Group: here the HTTP server drains when ctx ends.
func ExampleServe() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln))
	go func() { served <- troupe.Serve(ctx, execute, interrupt) }()
	// With errgroup: eg.Go(func() error { return troupe.Serve(ctx, execute, interrupt) })

	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	cancel()
	fmt.Println("Serve returned", <-served)
	// Output:
	// hello
	// Serve returned <nil>
}
