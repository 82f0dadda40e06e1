package troupe_test

import (
	"errors"
	"io"
	"log/slog"
	"runtime"
	"testing"

	"github.com/troupe-go/troupe"
)

// An interrupt that panics or calls Goexit after stopping its execute,
// whose execute then returns nil (the quiet path): the interrupt's failure
// is still in Run's error, with and without a logger, and a later stage
// still runs after it.
func TestAFailedInterruptIsReportedThoughItsExecuteEndsCleanly(t *testing.T) {
	for _, logging := range []bool{false, true} {
		for _, how := range []string{"panic", "goexit"} {
			var g troupe.Group
			if logging {
				g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			}
			stop := make(chan struct{})
			intDone := make(chan struct{})
			g.Add(func() error {
				<-stop
				<-intDone // the interrupt ended first
				return nil
			}, func(error) {
				close(stop)
				defer close(intDone)
				if how == "panic" {
					panic("bad interrupt")
				}
				runtime.Goexit()
			}).Name("bad")
			later := newProbe(nil)
			g.Add(later.execute, later.interrupt).Name("later").StopAfter("bad")
			g.Add(returnsNow(nil)).Name("trigger")
			err := g.Run()
			var ae *troupe.ActorError
			if !errors.As(err, &ae) || ae.Actor != "bad" {
				t.Errorf("logging %v %s: %v", logging, how, err)
			}
			if later.calls.Load() != 1 {
				t.Errorf("logging %v %s: later not interrupted", logging, how)
			}
		}
	}
}
