package troupe_test

import (
	"context"
	"testing"

	"github.com/troupe-go/troupe"
)

// Serve calls the interrupt on a goroutine of its own also when execute
// returns first: not on the caller's, which execute may have locked to a
// thread it changed (here its working directory, unshared from the
// process's), as TestTheClaimantsInterruptRunsOffItsExecutesThread asks
// of a Group. Serve runs on a goroutine of the test's own, which the
// locked thread ends with.
func TestServeCallsTheInterruptOffExecutesThread(t *testing.T) {
	m := newThreadMove(t)
	var atHome bool
	served := make(chan error, 1)
	go func() {
		served <- troupe.Serve(context.Background(), func() error { m.move(); return nil },
			func(error) { atHome = m.atHome() })
	}()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	m.check(t, "the interrupt", atHome)
}
