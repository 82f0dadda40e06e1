package troupe_test

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/troupe-go/troupe"
)

func TestSocketsListenFallsBackWhenNotActivated(t *testing.T) {
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		t.Setenv(v, "")
	}
	activated, err := troupe.SystemdSockets()
	if err != nil || activated == nil {
		t.Fatalf("SystemdSockets() = %v, %v without the variables, want empty Sockets and no error", activated, err)
	}
	for name, s := range map[string]*troupe.Sockets{"nil": nil, "zero": {}, "SystemdSockets": activated} {
		ln, err := s.Listen("http", "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("%s: Listen: %v", name, err)
		}
		if have := ln.Addr().(*net.TCPAddr); !have.IP.IsLoopback() || have.Port == 0 {
			t.Errorf("%s: listening on %v, want a port of its own on 127.0.0.1", name, have)
		}
		ln.Close()
	}
}

func TestSocketsListenWrapsTheFallbacksError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	ln, err := (*troupe.Sockets)(nil).Listen("http", "tcp", addr)
	if err == nil {
		ln.Close()
		t.Fatalf("Listen on %s, which is in use, succeeded", addr)
	}
	var opErr *net.OpError
	if want := "troupe: listen on " + addr + ": "; !strings.HasPrefix(err.Error(), want) || !errors.As(err, &opErr) {
		t.Errorf("Listen() = %v, want it to begin %q and wrap the *net.OpError", err, want)
	}
}
