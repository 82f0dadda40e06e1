package troupe_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

func TestHTTPServerIsReadyOnceItsOwnListenHasBound(t *testing.T) {
	// A free port, for the server to listen on itself.
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()

	var g troupe.Group
	g.Add(troupe.HTTPServer(&http.Server{Addr: addr, Handler: http.NotFoundHandler()})).Name("http")
	dialed := make(chan error, 1)
	g.Go(func(ctx context.Context) error {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		dialed <- err
		return blockUntilDone(ctx)
	}).Name("client").StartAfter("http")
	ran := make(chan error, 1)
	go func() { ran <- g.Run() }()
	if err := <-dialed; err != nil {
		t.Fatalf("an actor started after http could not connect: %v", err)
	}
	g.Stop()
	if err := <-ran; troupe.ExitCode(err) != 0 {
		t.Fatalf("Run() = %v", err)
	}
}

func TestHTTPServerThatCannotListenIsNeverReady(t *testing.T) {
	taken := listen(t)
	defer taken.Close()
	var g troupe.Group
	g.Add(troupe.HTTPServer(&http.Server{Addr: taken.Addr().String()})).Name("http")
	g.Go(blockUntilDone).Name("client").StartAfter("http")
	err := g.Run()
	var ns *troupe.NotStartedError
	if !strings.Contains(err.Error(), "cannot listen") || !errors.As(err, &ns) || ns.Actors[0] != "client" {
		t.Fatalf("Run() = %v, want http's listen error and client never started", err)
	}
}

// poll is one answer of /readyz, when it was asked, and when answered.
type poll struct {
	sent, answered time.Time
	code           int
}

// TestKubeletStopWithStopDelay plays the kubelet against a real server:
// it polls /readyz every few ms, asks the group to stop, and checks what a
// load balancer and the clients see.
func TestKubeletStopWithStopDelay(t *testing.T) {
	const stopDelay = time.Second
	slowEntered, releaseSlow := make(chan struct{}), make(chan struct{})
	var g troupe.Group
	g.StopDelay = stopDelay
	g.ShutdownTimeout = time.Minute
	mux := http.NewServeMux()
	mux.Handle("/readyz", g.HealthHandler())
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(slowEntered)
		<-releaseSlow
		io.WriteString(w, "slow ok")
	})
	ln := listen(t)
	base := "http://" + ln.Addr().String()
	g.Add(troupe.HTTPServer(&http.Server{Handler: mux}, troupe.Listener(ln))).Name("http")
	ran := runReady(t, &g)

	prober := newClient()
	defer prober.CloseIdleConnections()
	var mu sync.Mutex
	var polls []poll
	stopPolling := make(chan struct{})
	polled := make(chan struct{})
	sawReady := make(chan struct{})
	var sawReadyOnce sync.Once
	go func() {
		defer close(polled)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopPolling:
				return
			case <-tick.C:
			}
			sent := time.Now()
			resp, err := prober.Get(base + "/readyz")
			code := 0
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			answered := time.Now()
			mu.Lock()
			polls = append(polls, poll{sent, answered, code})
			mu.Unlock()
			if code == http.StatusOK {
				sawReadyOnce.Do(func() { close(sawReady) })
			}
		}
	}()
	<-sawReady

	client := newClient()
	defer client.CloseIdleConnections()
	slow := fetch(client, base+"/slow")
	<-slowEntered
	if resp, err := client.Get(base + "/fast"); err != nil || resp.Close {
		t.Fatalf("before the stop: %v, Connection: close %v", err, resp != nil && resp.Close)
	} else {
		resp.Body.Close()
	}

	stoppedAt := time.Now()
	g.Stop()
	stopReturned := time.Now()

	// During the delay requests are served, each answered with
	// Connection: close.
	served := 0
	for time.Since(stoppedAt) < stopDelay/2 {
		resp, err := client.Get(base + "/fast")
		if err != nil {
			t.Fatalf("a request during the stop delay failed: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !resp.Close {
			t.Fatalf("during the delay: status %d, Connection: close %v", resp.StatusCode, resp.Close)
		}
		served++
	}
	// After the delay the drain begins: the listener closes, while the
	// request begun before the stop is still in flight.
	untilRefused(t, ln.Addr().String())
	drainAt := time.Now()
	close(releaseSlow)
	if body := <-slow; body != "slow ok" {
		t.Fatalf("the request begun before the stop got %q", body)
	}
	if err := <-ran; troupe.ExitCode(err) != 0 {
		t.Fatalf("Run() = %v", err)
	}
	returnedAt := time.Now()
	close(stopPolling)
	<-polled

	mu.Lock()
	defer mu.Unlock()
	// A poll in flight as Stop is called may see either answer: the one
	// before is the last answered before the call, and the one after the
	// first asked once Stop has returned.
	lastBefore, firstAfter := -1, -1
	for i, p := range polls {
		if p.answered.Before(stoppedAt) {
			lastBefore = i
		}
		if p.sent.After(stopReturned) {
			firstAfter = i
			break
		}
	}
	if lastBefore < 0 || polls[lastBefore].code != http.StatusOK || firstAfter < 0 {
		t.Fatalf("no /readyz 200 just before the stop, in %d polls", len(polls))
	}
	if polls[firstAfter].code != http.StatusServiceUnavailable {
		t.Fatalf("the first /readyz after the stop answered %d, want 503", polls[firstAfter].code)
	}
	for _, p := range polls[firstAfter:] {
		if p.code == http.StatusOK {
			t.Fatalf("/readyz answered 200 again after the stop, %v into it", p.sent.Sub(stoppedAt))
		}
	}
	if d := drainAt.Sub(stoppedAt); d < stopDelay {
		t.Fatalf("the listener closed %v after the stop, before the %v delay", d, stopDelay)
	}
	// The bound is only a safety net for a slow machine: the drain took
	// from the release of the slow request.
	if d := returnedAt.Sub(drainAt); d > 10*time.Second {
		t.Fatalf("Run returned %v after the drain began", d)
	}
	t.Logf("timeline: stop → first 503 poll %v; %d requests served during the delay; listener closed at %v; Run returned %v after the stop (%v after the slow request was released)",
		polls[firstAfter].sent.Sub(stoppedAt), served, drainAt.Sub(stoppedAt), returnedAt.Sub(stoppedAt), returnedAt.Sub(drainAt))
}

func TestHealthHandlerAnswersEachState(t *testing.T) {
	var g troupe.Group
	synced := make(chan struct{})
	g.Go(blockUntilDone).Name("cache").ReadyWhen(readyOn(synced))
	g.Go(blockUntilDone).Name("api").StartAfter("cache")
	drained := make(chan struct{})
	g.Add(func() error { <-drained; return nil }, func(error) {}).Name("store") // holds the stop until the test has looked
	h := g.HealthHandler()
	get := func(path string) (int, string, string) {
		rec := newRecorder()
		h.ServeHTTP(rec, mustRequest(path))
		return rec.Code, rec.Header().Get("Troupe-State"), rec.Body.String()
	}
	if code, state, body := get("/readyz"); code != 503 || state != "starting" || !strings.Contains(body, "not ready: cache, api, store") {
		t.Fatalf("before Run: %d %q %q", code, state, body)
	}
	if code, _, _ := get("/livez"); code != 200 {
		t.Fatalf("/livez before Run: %d", code)
	}
	if code, _, _ := get("/metrics"); code != 404 {
		t.Fatalf("/metrics: %d, want 404", code)
	}
	ran := make(chan error, 1)
	go func() { ran <- g.Run() }()
	eventually(t, "cache starting", func() bool {
		_, _, body := get("/readyz?verbose")
		return strings.Contains(body, "cache: starting\napi: waiting\n")
	})
	close(synced)
	if err := g.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, state, body := get("/admin/readyz?verbose"); code != 200 || state != "ready" || body != "ready\ncache: ready\napi: ready\nstore: ready\n" {
		t.Fatalf("ready: %d %q %q", code, state, body)
	}
	g.Stop()
	if code, state, body := get("/readyz"); code != 503 || state != "stopping" || !strings.HasPrefix(body, "stopping: troupe: stop requested") {
		t.Fatalf("stopping: %d %q %q", code, state, body)
	}
	if code, _, _ := get("/livez"); code != 200 {
		t.Fatalf("/livez while stopping: %d", code)
	}
	close(drained)
	<-ran
	if code, state, _ := get("/livez"); code != 503 || state != "stopped" {
		t.Fatalf("/livez after Run: %d %q", code, state)
	}
	if _, _, body := get("/readyz?verbose"); !strings.Contains(body, "cache: stopped\napi: stopped\nstore: stopped\n") {
		t.Fatalf("verbose after Run: %q", body)
	}
}

// A pair runs once: the same HTTPServer pair added twice fails the second
// actor with a clear error, and the first serves and drains as usual.
func TestAServerPairAddedTwiceFailsTheSecondExecute(t *testing.T) {
	ln := listen(t)
	execute, interrupt := troupe.HTTPServer(&http.Server{Handler: http.NotFoundHandler()}, troupe.Listener(ln))
	var g troupe.Group
	g.Add(execute, interrupt).Name("http")
	g.Add(execute, interrupt).Name("again")
	err := g.Run()
	var ae *troupe.ActorError
	// The two executes race: either may be the second.
	if !errors.As(err, &ae) || (ae.Actor != "http" && ae.Actor != "again") || !strings.Contains(err.Error(), "runs once") {
		t.Fatalf("Run() = %v, want the second execute's error", err)
	}
	untilRefused(t, ln.Addr().String())
}
