//go:build unix

package troupe_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

var listenVars = []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}

// runActivationChild runs in a child given sockets as fds 3 and up, with
// the variables systemd sets, and reports on stderr what went wrong.
func runActivationChild(scenario string) int {
	var err error
	switch scenario {
	case "activation-serve":
		err = serveActivated()
	case "activation-other-pid":
		err = ignoreAnotherProcesssSockets()
	case "activation-refused":
		err = refuseSockets()
	default:
		err = fmt.Errorf("unknown scenario %q", scenario)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// serveActivated serves HTTP, with its pid in each response, on the socket
// named http until SIGTERM.
func serveActivated() error {
	sockets, err := troupe.SystemdSockets()
	if err != nil {
		return err
	}
	for _, v := range listenVars {
		if value, ok := os.LookupEnv(v); ok {
			return fmt.Errorf("%s=%s is still set once the sockets are taken", v, value)
		}
	}
	ln, err := sockets.Listen("http", "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	_, err = sockets.Listen("http", "tcp", "127.0.0.1:0")
	fmt.Println("again:", err)
	other, err := sockets.Listen("metrics", "tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("a name systemd did not pass does not fall back: %w", err)
	}
	other.Close()

	var g troupe.Group
	g.Add(troupe.Signals()).Name("signals")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "served by %d", os.Getpid())
	})}
	g.Add(troupe.HTTPServer(srv, troupe.Listener(ln))).Name("http")
	fmt.Println("serving on", ln.Addr())
	if err := g.Run(); troupe.ExitCode(err) != 0 {
		return err
	}
	return nil
}

// ignoreAnotherProcesssSockets finds the variables set for another pid.
func ignoreAnotherProcesssSockets() error {
	before := fdState(3)
	sockets, err := troupe.SystemdSockets()
	if err != nil {
		return err
	}
	if have := os.Getenv("LISTEN_FDS"); have != "1" {
		return fmt.Errorf("LISTEN_FDS = %q, want the 1 it was: the variables are another process's", have)
	}
	ln, err := sockets.Listen("http", "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	if have := fdState(3); before == "closed" || have != before {
		return fmt.Errorf("fd 3 was %s and is %s, want it left open as it was", before, have)
	}
	fmt.Println("listening on", ln.Addr())
	return nil
}

// refuseSockets prints the error of SystemdSockets, then what became of
// each fd, then waits for a line on stdin, while the parent checks that
// no listener is left.
func refuseSockets() error {
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	before := make([]string, n)
	for i := range before {
		before[i] = fdState(3 + i)
	}
	sockets, err := troupe.SystemdSockets()
	if sockets != nil {
		return fmt.Errorf("SystemdSockets() gave Sockets along with its error %v", err)
	}
	fmt.Println("error:", err)
	for _, v := range listenVars {
		if value, ok := os.LookupEnv(v); ok {
			return fmt.Errorf("%s=%s is still set after the error", v, value)
		}
	}
	for i, was := range before {
		switch have := fdState(3 + i); {
		case have == was:
			fmt.Printf("fd %d: unchanged\n", 3+i)
		case have == "closed":
			fmt.Printf("fd %d: closed\n", 3+i)
		default:
			fmt.Printf("fd %d: changed\n", 3+i)
		}
	}
	bufio.NewReader(os.Stdin).ReadString('\n')
	return nil
}

// fdState identifies the file fd refers to, or says it is closed, without
// an *os.File, which would close it once collected.
func fdState(fd int) string {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return "closed"
	}
	return fmt.Sprintf("dev %d inode %d", st.Dev, st.Ino)
}

// activatedCmd runs scenario in a child given files as fds 3 and up, with
// env. Unless env sets LISTEN_PID, the child's own pid is its LISTEN_PID,
// as systemd sets it: a shell, whose pid the test binary keeps when the
// shell execs it, knows it before the binary runs.
func activatedCmd(t *testing.T, scenario string, files []*os.File, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if !slices.ContainsFunc(env, func(v string) bool { return strings.HasPrefix(v, "LISTEN_PID=") }) {
		sh, err := exec.LookPath("sh")
		if err != nil {
			t.Skip("no sh to set LISTEN_PID to the child's pid:", err)
		}
		cmd = exec.Command(sh, "-c", `LISTEN_PID=$$ exec "$0" "$@"`, os.Args[0], "-test.run=^$")
	}
	cmd.Env = append(append(os.Environ(), childEnv+"="+scenario), env...)
	cmd.ExtraFiles = files
	return cmd
}

// tcpListener gives a listener on 127.0.0.1 and a copy of its fd to pass.
func tcpListener(t *testing.T) (net.Listener, *os.File) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	return ln, f
}

// next gives the child's next line of output.
func (c *child) next() string {
	c.t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			c.t.Fatalf("child ended; stderr:\n%s", c.stderr.String())
		}
		return line
	case <-time.After(time.Minute):
		c.t.Fatalf("child printed nothing within a minute")
		return ""
	}
}

func TestSystemdSocketsServeTheSocketSystemdPassedOnce(t *testing.T) {
	ln, f := tcpListener(t)
	addr := ln.Addr().String()
	c := startCmd(t, activatedCmd(t, "activation-serve", []*os.File{f}, "LISTEN_FDS=1", "LISTEN_FDNAMES=http"))
	// Only the child's copy now keeps the socket open, so only the child
	// can answer on addr.
	ln.Close()
	f.Close()
	c.await(`again: troupe: listen on systemd socket "http": every one has been handed out already`)
	c.await("serving on " + addr)

	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("GET: %v; stderr:\n%s", err, c.stderr.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want, have := fmt.Sprintf("served by %d", c.cmd.Process.Pid), string(body); want != have {
		t.Errorf("response: want %q, have %q", want, have)
	}

	c.signal(syscall.SIGTERM)
	if want, have := 0, c.wait(); want != have {
		t.Fatalf("exit status: want %d, have %d; stderr:\n%s", want, have, c.stderr.String())
	}
}

func TestSystemdSocketsLeaveAnotherProcesssSocketsAlone(t *testing.T) {
	ln, f := tcpListener(t)
	defer ln.Close()
	c := startCmd(t, activatedCmd(t, "activation-other-pid", []*os.File{f},
		"LISTEN_PID="+strconv.Itoa(os.Getpid()), "LISTEN_FDS=1", "LISTEN_FDNAMES=http"))
	f.Close()
	line := c.next()
	if !strings.HasPrefix(line, "listening on 127.0.0.1:") || line == "listening on "+ln.Addr().String() {
		t.Errorf("child says %q, want a listener of its own on 127.0.0.1, not %v", line, ln.Addr())
	}
	if want, have := 0, c.wait(); want != have {
		t.Fatalf("exit status: want %d, have %d; stderr:\n%s", want, have, c.stderr.String())
	}
}

// SystemdSockets stops at the first fd that is not a listening socket and
// closes the listeners it made before it. It closes a bad socket it took,
// but not a fd that is not a socket: that may be the process's own.
func TestSystemdSocketsRefuseAFDThatIsNotAListeningSocket(t *testing.T) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	datagram, err := udp.(*net.UDPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer datagram.Close()
	pipe, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pipe.Close()
	defer w.Close()

	for _, tc := range []struct {
		name    string
		second  *os.File // as fd 4, after a listener named http as fd 3
		env     []string
		wantErr string
		wantFDs []string
	}{
		{"a datagram socket", datagram, []string{"LISTEN_FDS=2", "LISTEN_FDNAMES=http:dns"},
			`troupe: systemd socket "dns" (fd 4) is not a listening stream socket`, []string{"fd 3: closed", "fd 4: closed"}},
		{"not a socket", pipe, []string{"LISTEN_FDS=2", "LISTEN_FDNAMES=http:config"},
			`troupe: systemd socket "config" (fd 4) is not a socket`, []string{"fd 3: closed", "fd 4: unchanged"}},
		{"a fd systemd did not pass", nil, []string{"LISTEN_FDS=2", "LISTEN_FDNAMES=http:gone"},
			`troupe: systemd socket "gone" (fd 4)`, []string{"fd 3: closed", "fd 4: unchanged"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, f := tcpListener(t)
			addr := ln.Addr().String()
			files := []*os.File{f}
			if tc.second != nil {
				files = append(files, tc.second)
			}
			c := startCmd(t, activatedCmd(t, "activation-refused", files, tc.env...))
			ln.Close()
			f.Close()
			if have := c.next(); !strings.HasPrefix(have, "error: "+tc.wantErr) {
				t.Errorf("child says %q, want the error to begin %q", have, tc.wantErr)
			}
			for _, want := range tc.wantFDs {
				if have := c.next(); want != have {
					t.Errorf("want %q, have %q", want, have)
				}
			}
			// The child still runs, so a listener it left open would accept.
			if conn, err := net.DialTimeout("tcp", addr, time.Minute); !errors.Is(err, syscall.ECONNREFUSED) {
				if err == nil {
					conn.Close()
				}
				t.Errorf("dial %s: %v, want the connection refused: the listener made of fd 3 is still open", addr, err)
			}
			fmt.Fprintln(c.stdin)
			if want, have := 0, c.wait(); want != have {
				t.Fatalf("exit status: want %d, have %d; stderr:\n%s", want, have, c.stderr.String())
			}
		})
	}
}

// These take no fd, so they run in the test process, whose fds 3 and up
// are the go command's and the runtime's: each case checks they are
// untouched.
func TestSystemdSocketsRefuseMalformedVariables(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		name, pid, fds, names string
		want                  string
	}{
		{"LISTEN_PID not a number", "12ab", "1", "", `troupe: systemd sockets: LISTEN_PID "12ab" is not a process id`},
		{"LISTEN_PID zero", "0", "1", "", `troupe: systemd sockets: LISTEN_PID "0" is not a process id`},
		{"LISTEN_FDS not a number", self, "one", "", `troupe: systemd sockets: LISTEN_FDS "one" is not a positive number`},
		{"LISTEN_FDS zero", self, "0", "", `troupe: systemd sockets: LISTEN_FDS "0" is not a positive number`},
		{"LISTEN_FDS negative", self, "-1", "", `troupe: systemd sockets: LISTEN_FDS "-1" is not a positive number`},
		{"fewer names than fds", self, "2", "http", `troupe: systemd sockets: LISTEN_FDNAMES "http" has 1 names for LISTEN_FDS=2`},
		{"more names than fds", self, "1", "http:grpc", `troupe: systemd sockets: LISTEN_FDNAMES "http:grpc" has 2 names for LISTEN_FDS=1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("LISTEN_PID", tc.pid)
			t.Setenv("LISTEN_FDS", tc.fds)
			t.Setenv("LISTEN_FDNAMES", tc.names)
			before := fdStates(3, 8)
			s, err := troupe.SystemdSockets()
			if s != nil || err == nil || err.Error() != tc.want {
				t.Errorf("SystemdSockets() = %v, %v, want no Sockets and the error %q", s, err, tc.want)
			}
			if have := fdStates(3, 8); have != before {
				t.Errorf("fds 3 to 7 were %s, and are %s", before, have)
			}
			_, set := os.LookupEnv("LISTEN_PID")
			if ours := tc.pid == self; set == ours {
				t.Errorf("LISTEN_PID set: %v; want it unset only when it is this process's", set)
			}
		})
	}
}

func TestSystemdSocketsWithThisPidButNoFDsIsNotActivated(t *testing.T) {
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	t.Setenv("LISTEN_FDS", "")
	t.Setenv("LISTEN_FDNAMES", "http")
	s, err := troupe.SystemdSockets()
	if s == nil || err != nil {
		t.Fatalf("SystemdSockets() = %v, %v, want empty Sockets and no error", s, err)
	}
	for _, v := range listenVars {
		if value, ok := os.LookupEnv(v); ok {
			t.Errorf("%s=%s is still set: it was this process's", v, value)
		}
	}
	ln, err := s.Listen("http", "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

func fdStates(from, to int) string {
	var b strings.Builder
	for fd := from; fd < to; fd++ {
		fmt.Fprintf(&b, "%d: %s; ", fd, fdState(fd))
	}
	return b.String()
}
