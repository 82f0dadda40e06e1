package troupe_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// interruptClock is an actor that records when its interrupt came.
type interruptClock struct {
	at   atomic.Int64 // UnixNano of the interrupt
	stop chan struct{}
}

func newInterruptClock() *interruptClock { return &interruptClock{stop: make(chan struct{})} }

func (c *interruptClock) execute() error { <-c.stop; return nil }
func (c *interruptClock) interrupt(error) {
	c.at.Store(time.Now().UnixNano())
	close(c.stop)
}
func (c *interruptClock) since(t time.Time) time.Duration { return time.Unix(0, c.at.Load()).Sub(t) }

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func mustRequest(path string) *http.Request { return httptest.NewRequest(http.MethodGet, path, nil) }

// readyz asks g's health handler, in process.
func readyz(g *troupe.Group) (int, string, string) {
	rec := newRecorder()
	g.HealthHandler().ServeHTTP(rec, mustRequest("/readyz"))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, rec.Header().Get("Troupe-State"), string(body)
}

func TestStopDelayKeepsServingThenInterrupts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{StopDelay: 10 * time.Second}
		c := newInterruptClock()
		g.Add(c.execute, c.interrupt).Name("server")
		ran := runReady(t, &g)
		if code, _, _ := readyz(&g); code != http.StatusOK {
			t.Fatalf("/readyz = %d while ready", code)
		}
		stoppedAt := time.Now()
		g.Stop()
		if code, state, body := readyz(&g); code != http.StatusServiceUnavailable || state != "stopping" || !strings.Contains(body, "stop requested") {
			t.Fatalf("/readyz right after Stop = %d %q %q, want 503 stopping", code, state, body)
		}
		time.Sleep(9 * time.Second) // fake time: the delay is still running
		synctest.Wait()
		if c.at.Load() != 0 {
			t.Fatalf("interrupted %v into a 10s delay", c.since(stoppedAt))
		}
		if err := <-ran; troupe.ExitCode(err) != 0 {
			t.Fatalf("Run() = %v", err)
		}
		if d := c.since(stoppedAt); d != 10*time.Second {
			t.Fatalf("interrupted %v after the stop, want the 10s delay", d)
		}
	})
}

func TestAFailureDuringTheStopDelayEndsItAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{StopDelay: 10 * time.Second}
		c := newInterruptClock()
		g.Add(c.execute, c.interrupt).Name("server")
		fail := make(chan struct{})
		g.Go(func(ctx context.Context) error {
			select {
			case <-fail:
				return errBoom
			case <-ctx.Done():
				return nil
			}
		}).Name("worker")
		ran := runReady(t, &g)
		stoppedAt := time.Now()
		g.Stop()
		time.Sleep(3 * time.Second)
		close(fail)
		err := <-ran
		if d := c.since(stoppedAt); d != 3*time.Second {
			t.Fatalf("interrupted %v after the stop, want 3s, when the failure came", d)
		}
		if !errors.Is(err, errBoom) || troupe.ExitCode(err) != 1 {
			t.Fatalf("Run() = %v, want the failure", err)
		}
	})
}

func TestAFailureIsNotDelayed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{StopDelay: 10 * time.Second}
		c := newInterruptClock()
		g.Add(c.execute, c.interrupt).Name("server")
		fire, ran := runUntilFired(&g, errBoom)
		if err := g.WaitReady(context.Background()); err != nil {
			t.Fatal(err)
		}
		failedAt := time.Now()
		close(fire)
		<-ran
		if d := c.since(failedAt); d != 0 {
			t.Fatalf("interrupted %v after a failure, want at once", d)
		}
	})
}

func TestAParentContextsCancellationIsDelayedAsASignalIs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		g := troupe.Group{StopDelay: 10 * time.Second}
		c := newInterruptClock()
		g.Add(c.execute, c.interrupt).Name("server")
		g.Add(troupe.Context(ctx)).Name("parent")
		ran := runReady(t, &g)
		stoppedAt := time.Now()
		cancel()
		if err := <-ran; troupe.ExitCode(err) != 0 {
			t.Fatalf("Run() = %v", err)
		}
		if d := c.since(stoppedAt); d != 10*time.Second {
			t.Fatalf("interrupted %v after the cancellation, want the 10s delay", d)
		}
	})
}

func TestTheStopDelayCountsAgainstShutdownTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{StopDelay: 10 * time.Second, ShutdownTimeout: 15 * time.Second}
		s := newStubborn()
		defer close(s.letGo)
		g.Add(s.execute, s.interrupt).Name("stubborn")
		ran := runReady(t, &g)
		stoppedAt := time.Now()
		g.Stop()
		err := <-ran
		if d := time.Since(stoppedAt); d != 15*time.Second {
			t.Fatalf("Run returned %v after the stop, want the 15s ShutdownTimeout", d)
		}
		var te *troupe.TimeoutError
		if !errors.As(err, &te) || te.ShutdownTimeout != 15*time.Second {
			t.Fatalf("Run() = %v, want a TimeoutError of 15s", err)
		}
	})
}

func TestBeforeStopRunsAsTheStopDelayBegins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{StopDelay: 10 * time.Second}
		var hookAt atomic.Int64
		srv := &chanServer{serving: make(chan struct{}), stop: make(chan struct{})}
		g.Add(troupe.GRPCServer(srv, listen(t), troupe.BeforeStop(func() { hookAt.Store(time.Now().UnixNano()) }))).Name("grpc")
		ran := runReady(t, &g)
		<-srv.serving
		stoppedAt := time.Now()
		g.Stop()
		synctest.Wait()
		if hookAt.Load() == 0 || time.Unix(0, hookAt.Load()).Sub(stoppedAt) != 0 {
			t.Fatal("BeforeStop did not run as the delay began")
		}
		if err := <-ran; troupe.ExitCode(err) != 0 {
			t.Fatalf("Run() = %v", err)
		}
	})
}

// chanServer is a GracefulServer that serves nothing until stopped, for
// tests in a synctest bubble, where a real Accept would never count as
// blocked.
type chanServer struct {
	serving chan struct{}
	stop    chan struct{}
	once    sync.Once
}

func (s *chanServer) Serve(ln net.Listener) error {
	close(s.serving)
	<-s.stop
	return ln.Close()
}
func (s *chanServer) GracefulStop() { s.once.Do(func() { close(s.stop) }) }
func (s *chanServer) Stop()         { s.GracefulStop() }
