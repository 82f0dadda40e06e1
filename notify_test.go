//go:build unix

package troupe_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// systemdPatience bounds each wait for a message that must come; it
// synchronises nothing.
const systemdPatience = 30 * time.Second

// fakeSystemd is the receiving end of a notify socket, as systemd holds it.
type fakeSystemd struct {
	t    *testing.T
	conn *net.UnixConn
}

// listenSystemd binds a datagram socket at name and points NOTIFY_SOCKET
// at it, with no watchdog unless the test sets one.
func listenSystemd(t *testing.T, name string) *fakeSystemd {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	t.Setenv("WATCHDOG_USEC", "")
	t.Setenv("WATCHDOG_PID", "")
	return &fakeSystemd{t: t, conn: conn}
}

// socketPath gives a fresh path for a socket. Not t.TempDir: it carries
// the test's name, and a socket's path must fit in about 100 bytes.
func socketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "troupe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "notify")
}

// next gives the next message.
func (s *fakeSystemd) next() string {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(systemdPatience))
	buf := make([]byte, 4096)
	n, err := s.conn.Read(buf)
	if err != nil {
		s.t.Fatalf("no message from the notifier: %v", err)
	}
	return string(buf[:n])
}

// nextNotPing gives the next message other than WATCHDOG=1.
func (s *fakeSystemd) nextNotPing() string {
	s.t.Helper()
	for {
		if msg := s.next(); msg != "WATCHDOG=1" {
			return msg
		}
	}
}

// noneAfter fails the test if a message is queued after the one named.
func (s *fakeSystemd) noneAfter(last string) {
	s.t.Helper()
	if msg := s.pending(); msg != "" {
		s.t.Fatalf("got %q after %s", msg, last)
	}
}

// pending gives the message already queued, or "" when there is none,
// without waiting: Go's socket is non-blocking, and returning true keeps
// the poller from waiting.
func (s *fakeSystemd) pending() string {
	s.t.Helper()
	rc, err := s.conn.SyscallConn()
	if err != nil {
		s.t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var n int
	var readErr error
	if err := rc.Read(func(fd uintptr) bool {
		n, readErr = syscall.Read(int(fd), buf)
		return true
	}); err != nil {
		s.t.Fatal(err)
	}
	if readErr == syscall.EAGAIN {
		return ""
	}
	if readErr != nil {
		s.t.Fatal(readErr)
	}
	return string(buf[:n])
}

// quietFor asserts that no message arrives for d: a bounded wait for what
// a correct notifier never sends.
func (s *fakeSystemd) quietFor(d time.Duration) {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	n, err := s.conn.Read(buf)
	if err == nil {
		s.t.Fatalf("got %q, want no message", buf[:n])
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		s.t.Fatal(err)
	}
}

func waitRun(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(systemdPatience):
		t.Fatal("Run did not return")
		return nil
	}
}

// gated adds an actor that is ready once release is closed.
func gated(g *troupe.Group, release <-chan struct{}) {
	g.Go(func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	}).Name("gate").ReadyWhen(func(ctx context.Context) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

const (
	readyMsg    = "READY=1\nSTATUS=ready"
	stoppingMsg = "STOPPING=1\nSTATUS=stopping: troupe: stop requested by Group.Stop"
)

// notifySequence runs a group whose readiness the test releases, and
// checks every message systemd gets: READY=1 only once the group is
// ready, STOPPING=1 as it stops, nothing else.
func notifySequence(t *testing.T, systemd *fakeSystemd) {
	var g troupe.Group
	g.Add(troupe.SystemdNotify(&g)).Name("systemd")
	release := make(chan struct{})
	gated(&g, release)
	done := runAsync(&g)

	eventually(t, "the notifier has started", func() bool { return slices.Equal(g.NotReady(), []string{"gate"}) })
	if msg := systemd.pending(); msg != "" {
		t.Fatalf("got %q while the group was starting", msg)
	}
	close(release)
	if err := g.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want, have := readyMsg, systemd.next(); want != have {
		t.Fatalf("want %q, have %q", want, have)
	}
	g.Stop()
	if want, have := stoppingMsg, systemd.next(); want != have {
		t.Fatalf("want %q, have %q", want, have)
	}
	if err := waitRun(t, done); !errors.Is(err, troupe.ErrStopRequested) {
		t.Fatalf("Run: %v", err)
	}
	systemd.noneAfter("STOPPING=1")
}

func TestSystemdNotifySendsReadyThenStoppingAndNothingElse(t *testing.T) {
	path := socketPath(t)
	notifySequence(t, listenSystemd(t, path))
	if have := os.Getenv("NOTIFY_SOCKET"); have != path {
		t.Errorf("NOTIFY_SOCKET is %q after Run, want %q", have, path)
	}
}

// systemd arms its watchdog at READY=1, and a ping would arm it earlier,
// with nothing to disarm it if the group then stopped before it was ready.
func TestSystemdNotifyPingsOnlyFromReadyToStopping(t *testing.T) {
	systemd := listenSystemd(t, socketPath(t))
	t.Setenv("WATCHDOG_USEC", "20000")
	var g troupe.Group
	g.Add(troupe.SystemdNotify(&g)).Name("systemd")
	release := make(chan struct{})
	gated(&g, release)
	done := runAsync(&g)

	eventually(t, "the notifier has started", func() bool { return slices.Equal(g.NotReady(), []string{"gate"}) })
	systemd.quietFor(200 * time.Millisecond) // ten intervals
	close(release)
	if want, have := readyMsg, systemd.next(); want != have {
		t.Fatalf("want %q, have %q", want, have)
	}
	for range 3 {
		if want, have := "WATCHDOG=1", systemd.next(); want != have {
			t.Fatalf("want %q, have %q", want, have)
		}
	}
	g.Stop()
	if want, have := stoppingMsg, systemd.nextNotPing(); want != have {
		t.Fatalf("want %q, have %q", want, have)
	}
	waitRun(t, done)
	systemd.noneAfter("STOPPING=1")
}

func TestSystemdNotifySendsOnlyStoppingForAGroupNeverReady(t *testing.T) {
	systemd := listenSystemd(t, socketPath(t))
	var g troupe.Group
	g.Add(troupe.SystemdNotify(&g)).Name("systemd")
	gated(&g, make(chan struct{}))
	done := runAsync(&g)
	eventually(t, "the notifier has started", func() bool { return slices.Equal(g.NotReady(), []string{"gate"}) })
	g.Stop()
	if want, have := stoppingMsg, systemd.next(); want != have {
		t.Fatalf("want %q, have %q", want, have)
	}
	waitRun(t, done)
	systemd.noneAfter("STOPPING=1")
}

// The cause's first line is the status: a STATUS= value ends at a newline.
func TestSystemdNotifyGivesAFailureAsTheStoppingStatus(t *testing.T) {
	systemd := listenSystemd(t, socketPath(t))
	var g troupe.Group
	g.Add(troupe.SystemdNotify(&g)).Name("systemd")
	fail := make(chan struct{})
	g.Go(func(ctx context.Context) error {
		<-fail
		return errors.New("disk full\non /var")
	}).Name("writer")
	done := runAsync(&g)
	if want, have := readyMsg, systemd.next(); want != have {
		t.Fatalf("want %q, have %q", want, have)
	}
	close(fail)
	if want, have := "STOPPING=1\nSTATUS=stopping: troupe: actor \"writer\": disk full", systemd.next(); want != have {
		t.Fatalf("want %q, have %q", want, have)
	}
	waitRun(t, done)
}

func TestSystemdNotifyPingsTheWatchdogForThisProcessOnly(t *testing.T) {
	for _, tc := range []struct {
		name, pid string
		pings     bool
	}{
		{"no WATCHDOG_PID", "", true},
		{"this process", strconv.Itoa(os.Getpid()), true},
		{"another process", strconv.Itoa(os.Getppid()), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			systemd := listenSystemd(t, socketPath(t))
			t.Setenv("WATCHDOG_USEC", "20000")
			t.Setenv("WATCHDOG_PID", tc.pid)
			var g troupe.Group
			g.Add(troupe.SystemdNotify(&g)).Name("systemd")
			g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("server")
			done := runAsync(&g)

			if want, have := readyMsg, systemd.next(); want != have {
				t.Fatalf("want %q, have %q", want, have)
			}
			if tc.pings {
				for range 5 {
					if want, have := "WATCHDOG=1", systemd.next(); want != have {
						t.Fatalf("want %q, have %q", want, have)
					}
				}
			} else {
				systemd.quietFor(200 * time.Millisecond) // ten intervals
			}
			g.Stop()
			if want, have := stoppingMsg, systemd.nextNotPing(); want != have {
				t.Fatalf("want %q, have %q", want, have)
			}
			waitRun(t, done)
		})
	}
}

// systemd disarms its watchdog when the service stops, and a ping would
// arm it again: none may follow STOPPING=1, through the whole StopDelay.
func TestSystemdNotifyStopsPingingWhenTheShutdownBegins(t *testing.T) {
	systemd := listenSystemd(t, socketPath(t))
	t.Setenv("WATCHDOG_USEC", "20000")
	g := troupe.Group{StopDelay: 200 * time.Millisecond} // ten intervals
	g.Add(troupe.SystemdNotify(&g)).Name("systemd")
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("server")
	done := runAsync(&g)
	if want, have := readyMsg, systemd.nextNotPing(); want != have {
		t.Fatalf("want %q, have %q", want, have)
	}
	start := time.Now()
	g.Stop()
	if want, have := stoppingMsg, systemd.nextNotPing(); want != have {
		t.Fatalf("want %q, have %q", want, have)
	}
	waitRun(t, done)
	if took := time.Since(start); took < g.StopDelay {
		t.Fatalf("Run returned %v after Stop, within the StopDelay", took)
	}
	systemd.noneAfter("STOPPING=1")
}

func TestSystemdNotifyFailsTheGroupOnBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, socket, usec, pid string
		want                    string
		is                      error
	}{
		{name: "usec not a number", usec: "20ms", want: `malformed WATCHDOG_USEC "20ms"`, is: strconv.ErrSyntax},
		{name: "usec zero", usec: "0", want: `malformed WATCHDOG_USEC "0"`, is: strconv.ErrRange},
		{name: "usec negative", usec: "-1", want: `malformed WATCHDOG_USEC "-1"`, is: strconv.ErrRange},
		{name: "usec beyond int64", usec: "18446744073709551615", want: `malformed WATCHDOG_USEC`, is: strconv.ErrRange},
		{name: "usec beyond time.Duration", usec: "9223372036854776", want: `malformed WATCHDOG_USEC`, is: strconv.ErrRange},
		{name: "pid not a number", usec: "20000", pid: "self", want: `malformed WATCHDOG_PID "self"`, is: strconv.ErrSyntax},
		{name: "relative socket", socket: "notify.sock", want: `unsupported NOTIFY_SOCKET "notify.sock"`},
		{name: "vsock socket", socket: "vsock:2:1234", want: `unsupported NOTIFY_SOCKET "vsock:2:1234"`},
		{name: "no such socket", socket: "/nonexistent/troupe/notify", want: "dial unixgram /nonexistent/troupe/notify", is: os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			systemd := listenSystemd(t, socketPath(t))
			if tc.socket != "" {
				t.Setenv("NOTIFY_SOCKET", tc.socket)
			}
			t.Setenv("WATCHDOG_USEC", tc.usec)
			t.Setenv("WATCHDOG_PID", tc.pid)
			var g troupe.Group
			g.Add(troupe.SystemdNotify(&g)).Name("systemd")
			g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("server")

			err := g.Run()
			var ae *troupe.ActorError
			if !errors.As(err, &ae) || ae.Actor != "systemd" {
				t.Fatalf("Run: %v, want the systemd actor's failure", err)
			}
			if !strings.HasPrefix(ae.Err.Error(), "troupe: systemd notify: "+tc.want) {
				t.Errorf("Run: %v, want %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Run: %v, want it to match %v", err, tc.is)
			}
			if msg := systemd.pending(); msg != "" {
				t.Errorf("got %q", msg)
			}
		})
	}
}

// Told nothing, systemd would kill the service at its timeout without
// saying why: a failed send stops the group with the reason.
func TestSystemdNotifyFailsTheGroupWhenASendFails(t *testing.T) {
	systemd := listenSystemd(t, socketPath(t))
	t.Setenv("WATCHDOG_USEC", "20000")
	var g troupe.Group
	g.Add(troupe.SystemdNotify(&g)).Name("systemd")
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("server")
	done := runAsync(&g)
	if want, have := readyMsg, systemd.nextNotPing(); want != have {
		t.Fatalf("want %q, have %q", want, have)
	}
	systemd.conn.Close() // the next ping finds no one
	err := waitRun(t, done)
	var ae *troupe.ActorError
	if !errors.As(err, &ae) || ae.Actor != "systemd" || !strings.HasPrefix(ae.Err.Error(), "troupe: systemd notify: write unixgram") {
		t.Fatalf("Run: %v, want the systemd actor's failed write", err)
	}
}

// Outside systemd the same main runs: nothing is sent, nothing is read
// but NOTIFY_SOCKET, and the actor stops cleanly.
func TestSystemdNotifyWithoutNotifySocketDoesNothing(t *testing.T) {
	for _, unset := range []bool{true, false} {
		t.Run("unset="+strconv.FormatBool(unset), func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", "")
			if unset {
				os.Unsetenv("NOTIFY_SOCKET") // t.Setenv restores it
			}
			t.Setenv("WATCHDOG_USEC", "not even read")
			var g troupe.Group
			g.Add(troupe.SystemdNotify(&g)).Name("systemd")
			g.Go(func(ctx context.Context) error {
				if err := g.WaitReady(ctx); err != nil {
					return err
				}
				g.Stop()
				<-ctx.Done()
				return nil
			}).Name("server")
			if err := g.Run(); !errors.Is(err, troupe.ErrStopRequested) || len(actorNames(err)) != 0 {
				t.Fatalf("Run: %v, want only the stop", err)
			}
			if v, ok := os.LookupEnv("NOTIFY_SOCKET"); ok == unset || v != "" {
				t.Errorf("NOTIFY_SOCKET is %q (set: %v) after Run", v, ok)
			}
		})
	}
}

// The reload function, called here as OnSignal would call it.
func TestSystemdReloadTellsOfTheReloadAroundFn(t *testing.T) {
	systemd := listenSystemd(t, socketPath(t))
	var g troupe.Group
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("server")
	done := runAsync(&g)
	if err := g.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}

	var calls int
	var during string
	reload := troupe.SystemdReload(&g, func(sig os.Signal) {
		calls++
		if sig != syscall.SIGHUP {
			t.Errorf("fn got %v, want SIGHUP", sig)
		}
		during = systemd.pending()
	})
	reload(syscall.SIGHUP)

	if calls != 1 {
		t.Fatalf("fn called %d times", calls)
	}
	lines := strings.Split(during, "\n")
	if lines[0] != "RELOADING=1" {
		t.Fatalf("before fn: got %q, want RELOADING=1 first", during)
	}
	if runtime.GOOS == "linux" {
		if len(lines) != 2 || !isMonotonicUsec(lines[1]) {
			t.Fatalf("before fn: got %q, want MONOTONIC_USEC=<digits> in the same message", during)
		}
	} else if len(lines) != 1 {
		t.Fatalf("before fn: got %q, want RELOADING=1 alone off Linux", during)
	}
	if want, have := "READY=1", systemd.pending(); want != have {
		t.Fatalf("after fn: want %q, have %q", want, have)
	}
	systemd.noneAfter("READY=1")
	g.Stop()
	waitRun(t, done)
}

func isMonotonicUsec(line string) bool {
	digits, ok := strings.CutPrefix(line, "MONOTONIC_USEC=")
	_, err := strconv.ParseUint(digits, 10, 64)
	return ok && err == nil
}

// A READY=1 during the start would tell systemd the service had started
// before it has.
func TestSystemdReloadTellsNothingUnlessTheGroupIsReady(t *testing.T) {
	systemd := listenSystemd(t, socketPath(t))
	var g troupe.Group
	release := make(chan struct{})
	gated(&g, release)
	var calls int
	reload := troupe.SystemdReload(&g, func(os.Signal) { calls++ })

	reload(syscall.SIGHUP) // before Run
	done := runAsync(&g)
	eventually(t, "the gate has started", func() bool { return slices.Equal(g.NotReady(), []string{"gate"}) })
	reload(syscall.SIGHUP) // while starting
	g.Stop()
	waitRun(t, done)
	reload(syscall.SIGHUP) // stopped

	if calls != 3 {
		t.Fatalf("fn called %d times, want 3", calls)
	}
	if msg := systemd.pending(); msg != "" {
		t.Fatalf("got %q", msg)
	}
}

func TestSystemdReloadWithoutNotifySocketOnlyCallsFn(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	var g troupe.Group
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("server")
	done := runAsync(&g)
	if err := g.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	var calls int
	troupe.SystemdReload(&g, func(os.Signal) { calls++ })(syscall.SIGHUP)
	if calls != 1 {
		t.Fatalf("fn called %d times", calls)
	}
	g.Stop()
	waitRun(t, done)
}
