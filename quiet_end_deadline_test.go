package troupe_test

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// Deadlines meet actors that end cleanly after their interrupt (no event):
// the names in the TimeoutError must be the same with and without a logger.
func TestStragglersAreTheSameWithOrWithoutALogger(t *testing.T) {
	for _, logging := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			var g troupe.Group
			g.ShutdownTimeout = time.Second
			if logging {
				g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			}
			quiet := newProbe(nil)
			late := newStubborn() // stage 1: ignores its interrupt
			g.Add(quiet.execute, quiet.interrupt).Name("quiet")
			g.Add(late.execute, late.interrupt).Name("late").StopAfter("quiet")
			after := newProbe(nil) // stage 2: interrupted only at the deadline
			g.Add(after.execute, after.interrupt).Name("after").StopAfter("late")
			g.Add(returnsNow(nil)).Name("trigger")
			err := g.Run()
			var te *troupe.TimeoutError
			if !errors.As(err, &te) {
				t.Fatalf("logging %v: want a TimeoutError, got %v", logging, err)
			}
			if want := []string{"late", "after"}; !slices.Equal(te.Stragglers, want) {
				t.Errorf("logging %v: stragglers %v, want %v", logging, te.Stragglers, want)
			}
			if te.ShutdownTimeout != time.Second {
				t.Errorf("logging %v: ShutdownTimeout %v", logging, te.ShutdownTimeout)
			}
			close(late.letGo)
			synctest.Wait()
		})
	}
}

// An actor's own Timeout lets a later stage go; its own clean end after
// the interrupt is not a straggler.
func TestAnOwnTimeoutLetsLaterQuietStagesGo(t *testing.T) {
	for _, logging := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			var g troupe.Group
			if logging {
				g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			}
			slow := newStubborn()
			g.Add(slow.execute, slow.interrupt).Name("slow").Timeout(time.Second)
			q1, q2 := newProbe(nil), newProbe(nil)
			g.Add(q1.execute, q1.interrupt).Name("q1").StopAfter("slow")
			g.Add(q2.execute, q2.interrupt).Name("q2").StopAfter("slow")
			g.Add(returnsNow(nil)).Name("trigger")
			err := g.Run()
			var te *troupe.TimeoutError
			if !errors.As(err, &te) || !slices.Equal(te.Stragglers, []string{"slow"}) {
				t.Errorf("logging %v: want stragglers [slow], got %v", logging, err)
			}
			close(slow.letGo)
			synctest.Wait()
		})
	}
}
