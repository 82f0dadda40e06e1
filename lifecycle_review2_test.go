//go:build unix

package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// signalLater stands in for a Signals actor whose signal the test sends:
// it returns the *SignalError a Signals actor returns, or nil once
// interrupted. (Real signals cannot reach a synctest bubble.)
func signalLater() (send chan struct{}, execute func() error, interrupt func(error)) {
	send = make(chan struct{})
	stop := make(chan struct{})
	return send, func() error {
			select {
			case <-send:
				return &troupe.SignalError{Signal: syscall.SIGTERM}
			case <-stop:
				return nil
			}
		}, func(error) {
			select {
			case <-stop:
			default:
				close(stop)
			}
		}
}

// The supervisor's SIGTERM that arrives during a stop delay that
// Group.Stop began (a Kubernetes preStop hook that calls Stop: the kubelet
// sends SIGTERM as soon as the hook returns) is only noted: it neither
// cuts the delay, which would stop the servers while the load balancer
// still routes to them, nor counts as a failure.
func TestAFirstSignalDuringAStopDelayBegunByStopDoesNotCutIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{StopDelay: 10 * time.Second}
		c := newInterruptClock()
		g.Add(c.execute, c.interrupt).Name("server")
		send, execute, interrupt := signalLater()
		g.Add(execute, interrupt).Name("signals")
		ran := make(chan error, 1)
		go func() { ran <- g.Run() }()
		if err := g.WaitReady(context.Background()); err != nil {
			t.Fatal(err)
		}
		stoppedAt := time.Now()
		g.Stop()
		time.Sleep(time.Second)
		close(send) // SIGTERM, one second into the delay
		err := <-ran
		if d := c.since(stoppedAt); d != 10*time.Second {
			t.Errorf("server interrupted %v after Stop, want the 10s delay; Run() = %v", d, err)
		}
		var ae *troupe.ActorError
		if errors.As(err, &ae) {
			t.Errorf("Run() = %v: the signal is reported as an actor's failure", err)
		}
	})
}

// The same with a parent context cancelled during a delay that
// Group.Stop began.
func TestAParentContextCancelledDuringTheStopDelayDoesNotCutIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		g := troupe.Group{StopDelay: 10 * time.Second}
		c := newInterruptClock()
		g.Add(c.execute, c.interrupt).Name("server")
		g.Add(troupe.Context(ctx)).Name("parent")
		ran := make(chan error, 1)
		go func() { ran <- g.Run() }()
		if err := g.WaitReady(context.Background()); err != nil {
			t.Fatal(err)
		}
		stoppedAt := time.Now()
		g.Stop()
		time.Sleep(time.Second)
		cancel()
		err := <-ran
		if d := c.since(stoppedAt); d != 10*time.Second {
			t.Errorf("server interrupted %v after Stop, want the 10s delay; Run() = %v", d, err)
		}
	})
}

// "Connection: close" is decided when the response is written, not when
// the handler begins: a request in flight as the stop delay begins, and
// answered during it, is told to close too, or its keep-alive connection
// would stay idle until Shutdown cuts it, the race the header avoids.
func TestARequestInFlightAsTheDelayBeginsIsToldToClose(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var g troupe.Group
	g.StopDelay = time.Hour
	g.ShutdownTimeout = 2 * time.Hour
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "slow ok")
	})
	ln := listen(t)
	base := "http://" + ln.Addr().String()
	g.Add(troupe.HTTPServer(&http.Server{Handler: mux}, troupe.Listener(ln))).Name("http")
	fire, ran := runUntilFired(&g, errBoom) // ends the hour's delay
	if err := g.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	client := newClient()
	defer client.CloseIdleConnections()
	type result struct {
		resp *http.Response
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := client.Get(base + "/slow")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		got <- result{resp, err}
	}()
	<-entered
	g.Stop() // the delay, and its Connection: close, begin as Stop returns
	close(release)
	r := <-got
	close(fire)
	<-ran
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !r.resp.Close {
		t.Errorf("a response sent during the stop delay has no Connection: close (header %q)", r.resp.Header.Get("Connection"))
	}
}

// SystemdSockets refuses a Unix datagram socket (ListenDatagram=), a
// connected stream socket (Accept=yes) and a stream socket that does not
// listen: net.FileListener takes each, and each would fail at its first
// Accept.
func TestSystemdSocketsRefuseSocketsThatDoNotListen(t *testing.T) {
	gram, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: t.TempDir() + "/g", Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer gram.Close()
	gramFile, err := gram.File()
	if err != nil {
		t.Fatal(err)
	}
	defer gramFile.Close()

	ln := listen(t)
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	connFile, err := conn.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer connFile.Close()

	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	bound := os.NewFile(uintptr(fd), "bound")
	defer bound.Close()

	for _, tc := range []struct {
		name string
		f    *os.File
	}{
		{"a unix datagram socket", gramFile},
		{"a connected TCP socket", connFile},
		{"a bound TCP socket that does not listen", bound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCmd(t, activatedCmd(t, "activation-refused", []*os.File{tc.f}, "LISTEN_FDS=1", "LISTEN_FDNAMES=web"))
			line := c.next()
			fmt.Fprintln(c.stdin)
			c.wait()
			if want := `error: troupe: systemd socket "web" (fd 3) is not a listening stream socket`; !strings.HasPrefix(line, want) {
				t.Errorf("child says %q, want %q; stderr:\n%s", line, want, c.stderr.String())
			}
		})
	}
}

// A nested group's HTTP server hears of the outer group's stop delay.
func TestANestedServerGetsConnectionCloseDuringTheOuterDelay(t *testing.T) {
	var outer, inner troupe.Group
	outer.StopDelay = time.Hour
	outer.ShutdownTimeout = 2 * time.Hour
	ln := listen(t)
	base := "http://" + ln.Addr().String()
	inner.Add(troupe.HTTPServer(&http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}, troupe.Listener(ln))).Name("http")
	outer.AddGroup(&inner).Name("inner")
	fire, ran := runUntilFired(&outer, errBoom)
	if err := outer.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	client := newClient()
	defer client.CloseIdleConnections()
	outer.Stop()
	resp, err := client.Get(base + "/")
	close(fire)
	<-ran
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !resp.Close {
		t.Errorf("nested server during the outer delay: no Connection: close")
	}
}

// A nested group's shutdown is the outer group's from its first moment,
// not from the nested Run's return: here an actor of the nested group
// fails, and while its server drains for 10s the outer group must not
// answer /readyz with 200, or a load balancer would keep sending new
// connections to a server that has closed its listener.
func TestANestedGroupsShutdownMakesTheOuterGroupStopping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var outer, inner troupe.Group
		drained := make(chan struct{})
		inner.Add(func() error { <-drained; return nil }, func(error) {
			go func() { time.Sleep(10 * time.Second); close(drained) }() // a 10s drain
		}).Name("server")
		fire, execute, interrupt := trigger(errBoom)
		inner.Add(execute, interrupt).Name("db")
		outer.AddGroup(&inner).Name("api")
		ran := make(chan error, 1)
		go func() { ran <- outer.Run() }()
		if err := outer.WaitReady(context.Background()); err != nil {
			t.Fatal(err)
		}
		close(fire) // the database is lost: the api group drains its server
		time.Sleep(time.Second)
		synctest.Wait()
		code, state, body := readyz(&outer)
		innerState := inner.State()
		<-ran
		if innerState == troupe.Stopping && (code == http.StatusOK || state != "stopping") {
			t.Errorf("1s into the nested group's 10s drain: outer /readyz = %d %q %q, want 503 stopping", code, state, strings.TrimSpace(body))
		}
	})
}
