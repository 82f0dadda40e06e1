//go:build unix

package troupe_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oklog/run"
	"github.com/troupe-go/troupe"
)

// childEnv selects a scenario when the test binary is re-executed as a child
// process, so that real signals reach a real process.
const childEnv = "TROUPE_SIGNAL_CHILD"

// runChild is called from TestMain in the child. It prints "ready" once the
// signal actor is registered and "stopping" when the slow actor has been
// interrupted, so the parent never signals a process that is not yet ready.
func runChild(scenario string) int {
	if strings.HasSuffix(scenario, "-then-signal") {
		return signalAfterwards(scenario)
	}
	if scenario == "nested" {
		return runNestedChild()
	}
	if scenario == "stop-delay" {
		return runStopDelayChild()
	}
	if strings.HasPrefix(scenario, "activation-") {
		return runActivationChild(scenario)
	}
	var g troupe.Group
	switch scenario {
	case "logged":
		g.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	case "last-words":
		g.OnSecondSignal = func(sig os.Signal, status int) {
			fmt.Printf("last words on %v, status %d\n", sig, status)
			os.Exit(3)
		}
	case "opt-out", "late-signals":
		g.OnSecondSignal = func(sig os.Signal, status int) { fmt.Println("ignored", sig) }
	}
	signals := g.Add(troupe.Signals()).Name("signals")
	release := make(chan struct{})
	slow := g.Add(func() error { <-release; return nil }, func(error) {
		fmt.Println("stopping")
		if scenario == "graceful" {
			close(release)
		}
		// Otherwise the actor ignores its interrupt, so only a second
		// signal, or a line on stdin, can end it.
	}).Name("slow")
	if scenario == "late-signals" {
		// The signal actor's own interrupt comes only after slow's, which
		// never ends on its own: the Run must reach its watch without it.
		signals.StopAfter("slow")
	} else {
		slow.StopAfter("signals") // so "stopping" means the signal actor has returned
	}
	stdinLine := make(chan struct{})
	go func() {
		bufio.NewReader(os.Stdin).ReadString('\n')
		close(stdinLine)
	}()
	switch scenario {
	case "stuck-after-failure":
		// Fail only once the parent is listening, so it sees "stopping".
		g.Add(func() error { <-stdinLine; return errors.New("database lost") }, func(error) {}).Name("db")
	case "opt-out", "late-signals":
		go func() { <-stdinLine; close(release) }()
	}
	fmt.Println("ready")
	err := g.Run()
	fmt.Println("run returned:", err)
	return troupe.ExitCode(err)
}

// runNestedChild has its Signals actor in a nested group, which returns as
// soon as the signal stops it, while the outer group still waits for an
// actor that ignores its interrupt. The second-signal watch must last
// until the outermost Run returns.
func runNestedChild() int {
	var outer, inner troupe.Group
	inner.Add(troupe.Signals()).Name("signals")
	outer.AddGroup(&inner).Name("workers")
	outer.Add(func() error { select {} }, func(error) { fmt.Println("stopping") }).Name("slow").StopAfter("workers")
	fmt.Println("ready")
	err := outer.Run()
	fmt.Println("run returned:", err)
	return troupe.ExitCode(err)
}

// runStopDelayChild is a ready group with an hour's StopDelay: it prints
// "delaying" once the first signal has begun the delay, and only a second
// signal can end it in time.
func runStopDelayChild() int {
	g := troupe.Group{StopDelay: time.Hour}
	g.Add(troupe.Signals()).Name("signals")
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("server")
	go func() {
		for g.State() != troupe.Stopping {
			time.Sleep(time.Millisecond) // polling, bounded by the parent's wait
		}
		fmt.Println("delaying")
	}()
	go func() {
		if g.WaitReady(context.Background()) == nil {
			fmt.Println("ready")
		}
	}()
	err := g.Run()
	fmt.Println("run returned:", err)
	return troupe.ExitCode(err)
}

// signalAfterwards sends the child itself SIGTERM after a pair that caught
// it should have let it go: the child must then die of it. (Not SIGUSR2:
// a Go program ignores the signals it does not catch, but for SIGHUP,
// SIGINT and SIGTERM, which end it.)
func signalAfterwards(scenario string) int {
	sig := syscall.SIGTERM
	var g troupe.Group
	switch scenario {
	case "invalid-then-signal":
		g.Add(troupe.Signals(sig)).Name("signals")
		g.Add(nil, nil)
	case "onsignal-invalid-then-signal":
		g.Add(troupe.OnSignal(func(os.Signal) {}, sig)).Name("reload")
		g.Add(nil, nil)
	case "run-then-signal":
		g.Add(troupe.Signals(sig)).Name("signals")
		g.Add(troupe.OnSignal(func(os.Signal) {}, sig)).Name("reload")
		g.Add(func() error { return nil }, func(error) {}).Name("done")
	case "dropped-then-signal":
		troupe.Signals(sig)
		troupe.OnSignal(func(os.Signal) {}, sig)
		// Only the garbage collector can tell that these pairs will never
		// run; keep collecting until it has.
		for range 6000 {
			runtime.GC()
			syscall.Kill(os.Getpid(), sig)
			time.Sleep(10 * time.Millisecond) // polling, bounded above
		}
		fmt.Println("survived")
		return 0
	}
	fmt.Println("run returned:", g.Run())
	syscall.Kill(os.Getpid(), sig)
	time.Sleep(10 * time.Second) // a bound: the signal kills at once when not caught
	fmt.Println("survived")
	return 0
}

type child struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr lockedBuffer
}

// lockedBuffer is written by exec's copying goroutine while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startChild(t *testing.T, scenario string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+scenario)
	return startCmd(t, cmd)
}

// startCmd starts cmd, which runs the test binary as a child, with its
// stdout read line by line and its stderr kept.
func startCmd(t *testing.T, cmd *exec.Cmd) *child {
	t.Helper()
	c := &child{t: t, cmd: cmd, lines: make(chan string, 16)}
	cmd.Stderr = &c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.lines)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			c.lines <- s.Text()
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return c
}

// await reads lines until one equals want. The bound is only a safety net.
func (c *child) await(want string) {
	c.t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("child ended before printing %q; stderr:\n%s", want, c.stderr.String())
			}
			if line == want {
				return
			}
		case <-timeout:
			c.t.Fatalf("child did not print %q within a minute", want)
		}
	}
}

func (c *child) signal(sig os.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatal(err)
	}
}

// wait returns the exit status, draining stdout first.
func (c *child) wait() int {
	c.t.Helper()
	for range c.lines {
	}
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		c.t.Fatal(err)
	}
	return c.cmd.ProcessState.ExitCode()
}

func TestSIGTERMStopsGracefullyAndExitsZero(t *testing.T) {
	c := startChild(t, "graceful")
	c.await("ready")
	c.signal(syscall.SIGTERM)
	c.await("stopping")
	if want, have := 0, c.wait(); want != have {
		t.Fatalf("exit status: want %d, have %d; stderr:\n%s", want, have, c.stderr.String())
	}
}

func TestSecondSignalDuringTheStopDelayExitsAtOnce(t *testing.T) {
	c := startChild(t, "stop-delay")
	c.await("ready")
	c.signal(syscall.SIGTERM)
	c.await("delaying")
	c.signal(syscall.SIGTERM)
	if want, have := 128+int(syscall.SIGTERM), c.wait(); want != have {
		t.Fatalf("exit status: want %d, have %d; stderr:\n%s", want, have, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "again during the shutdown") {
		t.Fatalf("stderr does not say why:\n%s", c.stderr.String())
	}
}

func TestSecondSignalDuringShutdownExitsAtOnce(t *testing.T) {
	c := startChild(t, "stuck")
	c.await("ready")
	c.signal(syscall.SIGTERM)
	c.await("stopping")
	c.signal(syscall.SIGINT)
	if want, have := 128+int(syscall.SIGINT), c.wait(); want != have {
		t.Fatalf("exit status: want %d, have %d; stderr:\n%s", want, have, c.stderr.String())
	}
	if want := "troupe: received signal interrupt after terminated during the shutdown; exiting now with status 130"; !strings.Contains(c.stderr.String(), want) {
		t.Errorf("stderr %q does not say %q", c.stderr.String(), want)
	}
}

// A supervisor's single SIGTERM during a shutdown that a failure began must
// not cut the drain short; only a second one forces the exit.
func TestFirstSignalDuringAnotherShutdownIsOnlyNoted(t *testing.T) {
	c := startChild(t, "stuck-after-failure")
	c.await("ready")
	fmt.Fprintln(c.stdin)
	c.await("stopping")
	c.signal(syscall.SIGTERM)
	// The child notes the first signal on stderr; wait for that before the
	// second, so the two are not merged.
	eventually(t, "the child notes the first signal on stderr", func() bool {
		return strings.Contains(c.stderr.String(), "send it again to exit at once")
	})
	c.signal(syscall.SIGTERM)
	if want, have := 128+int(syscall.SIGTERM), c.wait(); want != have {
		t.Fatalf("exit status: want %d, have %d; stderr:\n%s", want, have, c.stderr.String())
	}
}

func TestSignalErrorMatchesOursAndOklogRuns(t *testing.T) {
	var g troupe.Group
	g.Add(troupe.Signals(syscall.SIGUSR1)).Name("signals")
	g.Go(func(ctx context.Context) error {
		syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		<-ctx.Done()
		return nil
	}).Name("sender")
	err := g.Run()

	var se *troupe.SignalError
	if !errors.As(err, &se) || se.Signal != syscall.SIGUSR1 {
		t.Fatalf("Run() = %v, want a SignalError for SIGUSR1", err)
	}
	if !errors.Is(err, troupe.ErrSignal) || !errors.Is(err, run.ErrSignal) {
		t.Errorf("Run() = %v does not match both ErrSignal sentinels", err)
	}
	var rse *run.SignalError
	if !errors.As(err, &rse) || rse.Signal != syscall.SIGUSR1 {
		t.Errorf("errors.As to *run.SignalError failed for %v", err)
	}
	if want, have := 0, troupe.ExitCode(err); want != have {
		t.Errorf("ExitCode: want %d, have %d", want, have)
	}
}

func TestSignalsActorInterruptedReturnsNil(t *testing.T) {
	var g troupe.Group
	g.Add(troupe.Signals(syscall.SIGUSR2)).Name("signals")
	g.Add(returnsNow(nil)).Name("done")
	if err := g.Run(); err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
}

func TestSignalsPairWorksInARunGroup(t *testing.T) {
	var rg run.Group
	rg.Add(troupe.Signals(syscall.SIGUSR1))
	execute, interrupt := troupe.Func(func(ctx context.Context) error {
		syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		<-ctx.Done()
		return ctx.Err()
	})
	rg.Add(execute, interrupt)
	if err := rg.Run(); !errors.Is(err, run.ErrSignal) {
		t.Fatalf("run.Group.Run() = %v, want run.ErrSignal", err)
	}
}

func TestExitCode(t *testing.T) {
	sig := &troupe.SignalError{Signal: syscall.SIGTERM}
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"signal", &troupe.ActorError{Actor: "signals", Err: sig}, 0},
		{"signal joined with a failure", errors.Join(&troupe.ActorError{Actor: "signals", Err: sig}, errors.New("flush failed")), 1},
		{"signal joined with a timeout", errors.Join(sig, &troupe.TimeoutError{Stragglers: []string{"http"}}), 1},
		{"error", errors.New("boom"), 1},
		{"wrapped signal", fmt.Errorf("serve: %w", &troupe.ActorError{Actor: "signals", Err: sig}), 0},
		{"wrapped join of a signal and a failure", fmt.Errorf("serve: %w", errors.Join(&troupe.ActorError{Actor: "signals", Err: sig}, errors.New("flush failed"))), 1},
		{"join of wrapped signals", errors.Join(fmt.Errorf("a: %w", sig), fmt.Errorf("b: %w", run.ErrSignal)), 0},
		{"requested stop", fmt.Errorf("main: %w", troupe.ErrStopRequested), 0},
		{"plain context.Canceled", context.Canceled, 1},
	} {
		if have := troupe.ExitCode(tc.err); tc.want != have {
			t.Errorf("%s: want %d, have %d", tc.name, tc.want, have)
		}
	}
}

func TestContextActorStopsTheGroupWithTheParentsCause(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	var g troupe.Group
	g.Add(troupe.Context(ctx)).Name("parent")
	g.Go(func(c context.Context) error { <-c.Done(); return nil }).Name("worker")
	stop := errors.New("parent says stop")
	cancel(stop)
	err := g.Run()
	var ae *troupe.ActorError
	if !errors.Is(err, stop) || !errors.As(err, &ae) || ae.Actor != "parent" {
		t.Fatalf("Run() = %v, want the parent's cause from actor parent", err)
	}
}

func TestContextActorInterruptedReturnsNil(t *testing.T) {
	var g troupe.Group
	g.Add(troupe.Context(context.Background())).Name("parent")
	g.Add(returnsNow(nil))
	if err := g.Run(); err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
}

func TestOnSignalCallsTheFunctionPerSignalWithoutStoppingTheGroup(t *testing.T) {
	var g troupe.Group
	calls := make(chan os.Signal)
	g.Add(troupe.OnSignal(func(s os.Signal) { calls <- s })).Name("reload")
	g.Go(func(ctx context.Context) error {
		for range 2 {
			syscall.Kill(os.Getpid(), syscall.SIGHUP)
			if s := <-calls; s != syscall.SIGHUP {
				return fmt.Errorf("reload called with %v", s)
			}
		}
		return errors.New("done reloading")
	}).Name("sender")
	if err := g.Run(); err == nil || err.Error() != `troupe: actor "sender": done reloading` {
		t.Fatalf("Run() = %v, want the sender to be the cause (reload never stops the group)", err)
	}
}

func TestASignalStopIsLoggedAsInformationNotAnError(t *testing.T) {
	h := &capture{}
	g := troupe.Group{Logger: slog.New(h)}
	g.Add(troupe.Signals(syscall.SIGUSR1)).Name("signals")
	g.Go(func(ctx context.Context) error {
		syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		<-ctx.Done()
		return nil
	}).Name("server")
	g.Run()
	if level, ok := h.level("actor returned", "signals"); !ok || level != slog.LevelInfo {
		t.Errorf("signal actor's return logged at %v (found %v), want INFO", level, ok)
	}
}

func TestTheSecondSignalGoesThroughTheGroupsLogger(t *testing.T) {
	c := startChild(t, "logged")
	c.await("ready")
	c.signal(syscall.SIGTERM)
	c.await("stopping")
	c.signal(syscall.SIGINT)
	if want, have := 130, c.wait(); want != have {
		t.Fatalf("exit status: want %d, have %d; stderr:\n%s", want, have, c.stderr.String())
	}
	out := c.stderr.String()
	for _, want := range []string{`"msg":"second signal during the shutdown; exiting now"`, `"signal":"interrupt"`, `"after":"terminated"`, `"status":130`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log does not have %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "troupe: received signal interrupt") {
		t.Errorf("the message went to stderr as well as to the logger:\n%s", out)
	}
}

func TestOnSecondSignalRunsLastWordsInsteadOfExiting(t *testing.T) {
	c := startChild(t, "last-words")
	c.await("ready")
	c.signal(syscall.SIGTERM)
	c.await("stopping")
	c.signal(syscall.SIGINT)
	c.await("last words on interrupt, status 130")
	if want, have := 3, c.wait(); want != have {
		t.Fatalf("exit status: want %d, have %d; stderr:\n%s", want, have, c.stderr.String())
	}
}

func TestOnSecondSignalCanOptOutOfTheExit(t *testing.T) {
	for _, scenario := range []string{"opt-out", "late-signals"} {
		t.Run(scenario, func(t *testing.T) {
			c := startChild(t, scenario)
			c.await("ready")
			c.signal(syscall.SIGTERM)
			c.await("stopping")
			c.signal(syscall.SIGINT)
			c.await("ignored interrupt")
			fmt.Fprintln(c.stdin) // lets the slow actor return: the shutdown ends normally
			if want, have := 0, c.wait(); want != have {
				t.Fatalf("exit status: want %d, have %d; stderr:\n%s", want, have, c.stderr.String())
			}
		})
	}
}

// Signals and OnSignal catch their signals from the moment they are made,
// so none is lost before Run. Whenever the pair will not, or no longer,
// run, the signal must get its default action back: after Run refused the
// group, by the time Run returns, and once a pair that never ran is
// collected.
func TestSignalRegistrationsAreUndoneWhenThePairsAreDone(t *testing.T) {
	for _, scenario := range []string{"invalid-then-signal", "onsignal-invalid-then-signal", "run-then-signal", "dropped-then-signal"} {
		t.Run(scenario, func(t *testing.T) {
			c := startChild(t, scenario)
			c.wait()
			ws, _ := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
				t.Fatalf("the child survived SIGTERM (%v): the signal was still caught; stderr:\n%s", c.cmd.ProcessState, c.stderr.String())
			}
		})
	}
}

// The value form errors.As(err, &run.SignalError{}) is what oklog/run's own
// TestSignalError uses, and what code written for oklog/run v1.1 has.
func TestSignalErrorFillsOklogRunsSignalErrorValue(t *testing.T) {
	err := error(&troupe.ActorError{Actor: "signals", Err: &troupe.SignalError{Signal: syscall.SIGUSR1}})
	var value run.SignalError
	if !errors.As(err, &value) || value.Signal != syscall.SIGUSR1 {
		t.Errorf("errors.As(err, &run.SignalError{}) gave %v, want SIGUSR1", value.Signal)
	}
	if !errors.As(err, &(run.SignalError{})) {
		t.Error("errors.As(err, &(run.SignalError{})) = false")
	}
}

// A parent's plain cancel, as signal.NotifyContext's stop or a test's
// cancel does, asks the group to stop: ExitCode maps it to 0.
func TestAParentContextsCancelIsARequestedStop(t *testing.T) {
	for name, parent := range map[string]func() context.Context{
		"cancel": func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		},
		"signal.NotifyContext": func() context.Context {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGUSR1)
			t.Cleanup(stop)
			syscall.Kill(os.Getpid(), syscall.SIGUSR1)
			<-ctx.Done()
			return ctx
		},
	} {
		t.Run(name, func(t *testing.T) {
			var g troupe.Group
			g.Add(troupe.Context(parent())).Name("parent")
			g.Go(func(c context.Context) error { <-c.Done(); return nil }).Name("worker")
			err := g.Run()
			var ae *troupe.ActorError
			if !errors.Is(err, troupe.ErrStopRequested) || !errors.Is(err, context.Canceled) || !errors.As(err, &ae) || ae.Actor != "parent" {
				t.Fatalf("Run() = %v, want a requested stop by parent that matches context.Canceled", err)
			}
			if want, have := 0, troupe.ExitCode(err); want != have {
				t.Errorf("ExitCode: want %d, have %d", want, have)
			}
		})
	}
}

// Signals belong to the outermost group: a Signals actor in a nested group
// keeps its second-signal watch until the outermost Run returns, not only
// until its own group's.
func TestASecondSignalToANestedSignalsActorStillExitsAtOnce(t *testing.T) {
	c := startChild(t, "nested")
	c.await("ready")
	c.signal(syscall.SIGTERM)
	c.await("stopping") // the nested group has returned; the outer waits for slow
	c.signal(syscall.SIGINT)
	if want, have := 130, c.wait(); want != have {
		t.Fatalf("exit status: want %d, have %d; stderr:\n%s", want, have, c.stderr.String())
	}
	if want := "received signal interrupt after terminated during the shutdown; exiting now with status 130"; !strings.Contains(c.stderr.String(), want) {
		t.Errorf("stderr %q does not say %q", c.stderr.String(), want)
	}
}
