//go:build unix

package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/troupe-go/troupe"
)

// A signal stops the group; Run returns the SignalError, and ExitCode maps
// a clean signal stop to 0. The example sends itself SIGUSR1 so that it can
// run; a service uses troupe.Signals() for SIGINT and SIGTERM.
func ExampleSignals() {
	var g troupe.Group
	g.Add(troupe.Signals(syscall.SIGUSR1)).Name("signals")
	g.Go(func(ctx context.Context) error {
		syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		<-ctx.Done()
		return nil
	}).Name("server")

	err := g.Run()
	var se *troupe.SignalError
	if errors.As(err, &se) {
		fmt.Println("stopped by", se.Signal)
	}
	fmt.Println("exit code", troupe.ExitCode(err))
	// Output:
	// stopped by user defined signal 1
	// exit code 0
}

// OnSignal calls a function for each SIGHUP without stopping the group.
func ExampleOnSignal() {
	var g troupe.Group
	reloaded := make(chan struct{})
	g.Add(troupe.OnSignal(func(os.Signal) {
		fmt.Println("configuration reloaded")
		close(reloaded)
	})).Name("reload")
	g.Go(func(ctx context.Context) error {
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
		<-reloaded
		return nil
	}).Name("server")
	g.Run()
	// Output: configuration reloaded
}
