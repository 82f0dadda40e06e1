package bridge_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"go.uber.org/goleak"
	"golang.org/x/sync/errgroup"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// An errgroup main: an HTTP server, under troupe.Serve, beside a worker
// that fails while requests are in flight. errgroup cancels the shared
// context; Serve interrupts the server, which drains: every request it had
// accepted completes, and Wait returns the worker's error.
func TestAnHTTPServerUnderErrgroupDrainsWhenAnotherGoroutineFails(t *testing.T) {
	const clients, maxRequests = 16, 5_000
	var accepted, completed atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := accepted.Add(1)
		time.Sleep(time.Duration(5+n%20) * time.Millisecond) // simulated work
		io.WriteString(w, "ok")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"

	eg, ctx := errgroup.WithContext(context.Background())
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln))
	eg.Go(func() error { return troupe.Serve(ctx, execute, interrupt) })

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	var sent atomic.Int64
	var load sync.WaitGroup
	for range clients {
		load.Go(func() {
			for sent.Add(1) <= maxRequests {
				resp, err := client.Get(url)
				if err != nil {
					return // the server is gone
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && string(body) == "ok" {
					completed.Add(1)
				}
			}
		})
	}
	workerFailed := errors.New("worker failed")
	eg.Go(func() error {
		for completed.Load() < 200 {
			time.Sleep(time.Millisecond) // polling a counter, bounded by the load
		}
		return workerFailed
	})
	if err := eg.Wait(); err != workerFailed {
		t.Fatalf("Wait() = %v, want the worker's error", err)
	}
	load.Wait()
	if accepted.Load() != completed.Load() {
		t.Errorf("the server accepted %d requests but clients got %d full 200s: %d dropped", accepted.Load(), completed.Load(), accepted.Load()-completed.Load())
	}
	if accepted.Load() == 0 {
		t.Error("no request was served: the test did not test a drain")
	}
	t.Logf("accepted %d, completed %d", accepted.Load(), completed.Load())
}

// The Group form of the same main, next to it: the worker's failure stops
// the group, and the server drains.
func TestTheSameMainWithAGroup(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var g troupe.Group
	g.Add(troupe.HTTPServer(srv, troupe.Listener(ln))).Name("http")
	workerFailed := errors.New("worker failed")
	g.Go(func(ctx context.Context) error { return workerFailed }).Name("worker")
	if err := g.Run(); !errors.Is(err, workerFailed) {
		t.Fatalf("Run() = %v, want the worker's error", err)
	}
}
