package troupe_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// A stop request during a shutdown is a note, not a failure; but a
// nested group that was asked to stop and whose actor then failed returns
// both, and the failure must be kept.
func TestFailureJoinedToAStopRequestIsKept(t *testing.T) {
	var top, mid troupe.Group
	logs := &capture{}
	top.Logger = slog.New(logs) // to see the stop delay begin
	top.StopDelay = 300 * time.Millisecond
	top.ShutdownTimeout = 10 * time.Second
	errFlush := errors.New("flush failed")
	stopped := make(chan struct{})
	mid.Add(func() error { <-stopped; return errFlush }, func(error) { close(stopped) }).Name("writer")
	top.AddGroup(&mid).Name("mid")
	top.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("t")
	ran := runReady(t, &top)
	top.Stop()
	eventually(t, "top's stop delay begins", func() bool { _, ok := logs.find("stop delay begun: not ready, still serving"); return ok })
	mid.Stop() // within top's stop delay
	err := <-ran
	t.Logf("Run() = %v; ExitCode %d", err, troupe.ExitCode(err))
	if !errors.Is(err, errFlush) || !strings.Contains(errString(err), "flush failed") {
		t.Errorf("the writer's failure is lost: Run() = %v, ExitCode %d", err, troupe.ExitCode(err))
	}
}
