//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// binDir holds the service binary that the tests build, removed at the end.
var binDir string

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "troupe-service"); err != nil {
		panic(err)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(binDir) }))
}

// buildOnce builds the service binary for all the tests.
var buildOnce = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "service")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", errors.New(string(out))
	}
	return bin, nil
})

type logLine map[string]any

func (l logLine) is(msg, actor string) bool {
	return l["msg"] == msg && (actor == "" || l["actor"] == actor)
}

// service is one running process of the built binary, with its JSON log.
type service struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan logLine
	mu    sync.Mutex
	log   []logLine
	raw   strings.Builder
}

func start(t *testing.T, args ...string) *service {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatalf("go build: %v", err)
	}
	cmd := exec.Command(bin, append([]string{"-log", "json", "-http-addr", "127.0.0.1:0", "-grpc-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0", "-warmup", "0s"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &service{t: t, cmd: cmd, lines: make(chan logLine, 1024)}
	go s.read(stderr)
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return s
}

func (s *service) read(r io.Reader) {
	defer close(s.lines)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		s.mu.Lock()
		s.raw.WriteString(sc.Text() + "\n")
		s.mu.Unlock()
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		s.mu.Lock()
		s.log = append(s.log, l)
		s.mu.Unlock()
		s.lines <- l
	}
}

// await reads the log until a line matches; the bound is a safety net.
func (s *service) await(msg, actor string) logLine {
	s.t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("service exited before logging %q; output:\n%s", msg, s.output())
			}
			if l.is(msg, actor) {
				return l
			}
		case <-timeout:
			s.t.Fatalf("no %q log line within a minute; output:\n%s", msg, s.output())
		}
	}
}

func (s *service) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw.String()
}

func (s *service) exitCode() int {
	s.t.Helper()
	for range s.lines {
	}
	err := s.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		s.t.Fatal(err)
	}
	return s.cmd.ProcessState.ExitCode()
}

// index is the position of the first log line matching msg and actor.
func (s *service) index(msg, actor string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, l := range s.log {
		if l.is(msg, actor) {
			return i
		}
	}
	return -1
}

func waitServing(t *testing.T, httpAddr, grpcAddr string) {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/")
	if err != nil {
		t.Fatalf("HTTP does not answer: %v", err)
	}
	resp.Body.Close()
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC health: %v %v", h, err)
	}
}

type response struct {
	status int
	body   string
	err    error
}

func slowRequests(httpAddr string, n int) (<-chan response, *http.Client) {
	client := &http.Client{Transport: &http.Transport{}}
	out := make(chan response, n)
	for range n {
		go func() {
			resp, err := client.Get("http://" + httpAddr + "/slow")
			if err != nil {
				out <- response{err: err}
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			out <- response{resp.StatusCode, string(body), err}
		}()
	}
	return out, client
}

func TestSIGTERMDrainsInFlightRequestsAndExitsZero(t *testing.T) {
	const inFlight = 5
	s := start(t, "-slow", "1s", "-tick", "50ms")
	addrs := s.await("listening", "")
	httpAddr, grpcAddr := addrs["http"].(string), addrs["grpc"].(string)
	waitServing(t, httpAddr, grpcAddr)
	s.await("ticker did some work", "ticker")

	responses, client := slowRequests(httpAddr, inFlight)
	defer client.CloseIdleConnections()
	for range inFlight {
		s.await("slow request started", "http")
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	for range inFlight {
		r := <-responses
		if r.err != nil || r.status != http.StatusOK || r.body != "slow request done\n" {
			t.Errorf("in-flight request: %d %q %v, want 200", r.status, r.body, r.err)
		}
	}
	if code := s.exitCode(); code != 0 {
		t.Fatalf("exit status %d, want 0; output:\n%s", code, s.output())
	}
	begun := s.index("shutdown begun", "signals")
	httpDone, grpcDone := s.index("actor returned", "http"), s.index("actor returned", "grpc")
	stored := s.index("store flushed and closed", "store")
	if begun < 0 || httpDone < begun || grpcDone < begun || stored < httpDone || stored < grpcDone {
		t.Errorf("log order: shutdown begun %d, http returned %d, grpc returned %d, store closed %d; want the store last:\n%s",
			begun, httpDone, grpcDone, stored, s.output())
	}
}

func TestSecondSignalExitsAtOnceWithTheConventionalStatus(t *testing.T) {
	s := start(t, "-slow", "1m")
	addrs := s.await("listening", "")
	httpAddr := addrs["http"].(string)
	waitServing(t, httpAddr, addrs["grpc"].(string))

	responses, client := slowRequests(httpAddr, 1)
	defer client.CloseIdleConnections()
	s.await("slow request started", "http")
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.await("shutdown begun", "signals")
	s.cmd.Process.Signal(syscall.SIGINT)
	if code := s.exitCode(); code != 128+int(syscall.SIGINT) {
		t.Fatalf("exit status %d, want %d; output:\n%s", code, 128+int(syscall.SIGINT), s.output())
	}
	if !strings.Contains(s.output(), `"msg":"second signal during the shutdown; exiting now","signal":"interrupt","after":"terminated","status":130`) {
		t.Errorf("the forced exit was not explained in the log:\n%s", s.output())
	}
	if r := <-responses; r.err == nil {
		t.Errorf("the request cut off by the forced exit got %d %q", r.status, r.body)
	}
}

func TestAPortInUseIsAClearErrorAndNonZeroExit(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-http-addr", taken.Addr().String(), "-grpc-addr", "127.0.0.1:0").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; output:\n%s", err, out)
	}
	if want := "service: cannot listen for HTTP: troupe: listen on " + taken.Addr().String(); !strings.Contains(string(out), want) {
		t.Errorf("output %q does not say %q", out, want)
	}
}

// probe asks the admin server, as the kubelet does.
func probe(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("probe %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Troupe-State"), string(body)
}

func TestNotReadyUntilWarmAndASIGTERMWhileStartingExitsAtOnce(t *testing.T) {
	s := start(t, "-warmup", "1h", "-stop-delay", "20s")
	admin := "http://" + s.await("listening", "")["admin"].(string)
	s.await("actor started", "cache")
	// The probes answer as soon as the admin server serves, which may be
	// before Run has started the rest, or heard that admin is bound.
	deadline := time.Now().Add(time.Minute)
	for {
		_, _, body := probe(t, admin+"/readyz")
		if body == "starting; not ready: cache, http, grpc\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never named only the cache and the servers that wait for it: %q", body)
		}
		time.Sleep(5 * time.Millisecond) // polling, bounded above
	}
	for range 10 {
		code, state, body := probe(t, admin+"/readyz?verbose")
		if code != http.StatusServiceUnavailable || state != "starting" || !strings.Contains(body, "cache, http, grpc\n") ||
			!strings.Contains(body, "cache: starting\nhttp: waiting\ngrpc: waiting\n") {
			t.Fatalf("/readyz while the cache warms: %d %q %q", code, state, body)
		}
	}
	if code, _, _ := probe(t, admin+"/livez"); code != http.StatusOK {
		t.Fatalf("/livez while starting: %d", code)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if code := s.exitCode(); code != 0 {
		t.Fatalf("exit status %d, want 0; output:\n%s", code, s.output())
	}
	if s.index("stop delay begun: not ready, still serving", "") >= 0 {
		t.Errorf("a stop while starting was delayed:\n%s", s.output())
	}
	if s.index("actors never started", "") < 0 {
		t.Errorf("the servers that never started are not logged:\n%s", s.output())
	}
}

func TestSIGTERMFlipsReadinessWhileRequestsStillComplete(t *testing.T) {
	s := start(t, "-warmup", "10ms", "-stop-delay", "1s", "-slow", "1500ms")
	addrs := s.await("listening", "")
	admin, httpAddr := "http://"+addrs["admin"].(string), addrs["http"].(string)
	s.await("group ready", "")
	if code, state, _ := probe(t, admin+"/readyz"); code != http.StatusOK || state != "ready" {
		t.Fatalf("/readyz once warm: %d %q", code, state)
	}
	responses, client := slowRequests(httpAddr, 1)
	defer client.CloseIdleConnections()
	s.await("slow request started", "http")
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.await("stop delay begun: not ready, still serving", "")
	code, state, body := probe(t, admin+"/readyz")
	if code != http.StatusServiceUnavailable || state != "stopping" || !strings.Contains(body, "received signal terminated") {
		t.Fatalf("/readyz during the stop delay: %d %q %q", code, state, body)
	}
	resp, err := client.Get("http://" + httpAddr + "/")
	if err != nil {
		t.Fatalf("a request during the stop delay failed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Fatalf("during the stop delay: status %d, Connection: close %v", resp.StatusCode, resp.Close)
	}
	if r := <-responses; r.err != nil || r.status != http.StatusOK || r.body != "slow request done\n" {
		t.Fatalf("the request begun before SIGTERM: %d %q %v", r.status, r.body, r.err)
	}
	if code := s.exitCode(); code != 0 {
		t.Fatalf("exit status %d, want 0; output:\n%s", code, s.output())
	}
}
