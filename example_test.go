package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/troupe-go/troupe"
)

// Each actor sits in its own block, as with oklog/run: an execute function
// that runs, and an interrupt function that makes it return.
func ExampleGroup() {
	var g troupe.Group
	{
		stop := make(chan struct{})
		g.Add(func() error {
			<-stop
			fmt.Println("server drained")
			return nil
		}, func(error) {
			close(stop)
		}).Name("server")
	}
	{
		g.Add(func() error {
			return errors.New("disk full")
		}, func(error) {}).Name("writer")
	}
	err := g.Run()
	fmt.Println(err)
	// Output:
	// server drained
	// troupe: actor "writer": disk full
}

// A context actor is stopped by cancelling its context, with the shutdown's
// cause attached.
func ExampleGroup_Go() {
	var g troupe.Group
	g.Go(func(ctx context.Context) error {
		<-ctx.Done()
		fmt.Println("worker stopped because:", context.Cause(ctx))
		return ctx.Err() // an echo of the interruption, not a failure
	}).Name("worker")
	g.Go(func(ctx context.Context) error {
		return nil
	}).Name("job")
	fmt.Println("Run returned", g.Run())
	// Output:
	// worker stopped because: troupe: actor "job": actor returned
	// Run returned <nil>
}

// The database is closed only after the HTTP server has returned.
func ExampleActor_StopAfter() {
	var g troupe.Group
	{
		stop := make(chan struct{})
		g.Add(func() error {
			<-stop
			fmt.Println("http drained")
			return nil
		}, func(error) { close(stop) }).Name("http")
	}
	g.Add(troupe.CloseFunc(func() error {
		fmt.Println("db closed")
		return nil
	})).Name("db").StopAfter("http")
	g.Add(func() error { return nil }, func(error) {}).Name("job")
	g.Run()
	// Output:
	// http drained
	// db closed
}

// An actor that ignores its interrupt is named when the deadline passes.
func ExampleGroup_shutdownTimeout() {
	g := troupe.Group{ShutdownTimeout: 50 * time.Millisecond}
	stuck := make(chan struct{})
	g.Add(func() error { <-stuck; return nil }, func(error) {
		// Ignores the interrupt, like a handler that never returns.
	}).Name("stuck")
	g.Add(func() error { return nil }, func(error) {}).Name("job")

	err := g.Run()
	var te *troupe.TimeoutError
	if errors.As(err, &te) {
		fmt.Println("still running:", te.Stragglers)
	}
	fmt.Println(errors.Is(err, troupe.ErrShutdownTimeout))
	close(stuck)
	// Output:
	// still running: [stuck]
	// true
}

// An actor marked OneShot may finish without stopping the others.
func ExampleActor_OneShot() {
	var g troupe.Group
	migrated := make(chan struct{})
	g.Add(func() error {
		fmt.Println("migrated")
		close(migrated)
		return nil
	}, func(error) {}).Name("migrate").OneShot()
	g.Go(func(ctx context.Context) error {
		<-migrated
		fmt.Println("serving after the migration")
		return nil
	}).Name("server")
	g.Run()
	// Output:
	// migrated
	// serving after the migration
}

// ExitCode is 0 only when every error in the tree is a requested stop,
// however it was wrapped on its way to main.
func ExampleExitCode() {
	signalStop := &troupe.ActorError{Actor: "signals", Err: &troupe.SignalError{Signal: os.Interrupt}}
	flushFailed := &troupe.ActorError{Actor: "exporter", Err: errors.New("flush failed")}
	fmt.Println(troupe.ExitCode(nil))
	fmt.Println(troupe.ExitCode(signalStop))
	fmt.Println(troupe.ExitCode(fmt.Errorf("serve: %w", signalStop)))
	fmt.Println(troupe.ExitCode(fmt.Errorf("serve: %w", errors.Join(signalStop, flushFailed))))
	// Output:
	// 0
	// 0
	// 0
	// 1
}
