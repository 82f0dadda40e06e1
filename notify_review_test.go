//go:build linux

package troupe_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/troupe-go/troupe"
)

// An abstract NOTIFY_SOCKET (@name) works as a path does.
func TestSystemdNotifyOnAnAbstractSocketFromAnyPath(t *testing.T) {
	notifySequence(t, listenSystemd(t, "@troupe-review-"+strconv.Itoa(os.Getpid())))
}

// A stop that begins during a reload's fn (a SIGTERM during a long
// reload) makes SystemdReload send no READY=1 after the notifier's
// STOPPING=1: a READY=1 during the shutdown would mean nothing.
func TestSystemdReloadSaysNoReadyAfterStopping(t *testing.T) {
	systemd := listenSystemd(t, socketPath(t))
	var g troupe.Group
	g.Add(troupe.SystemdNotify(&g)).Name("systemd")
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("server")
	done := runAsync(&g)
	if err := g.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	if have := systemd.next(); have != readyMsg {
		t.Fatalf("want %q, have %q", readyMsg, have)
	}
	reload := troupe.SystemdReload(&g, func(os.Signal) {
		if have := systemd.next(); !strings.HasPrefix(have, "RELOADING=1") {
			t.Errorf("want RELOADING=1, have %q", have)
		}
		g.Stop() // the shutdown begins while fn reloads
		if have := systemd.next(); have != stoppingMsg {
			t.Errorf("want %q, have %q", stoppingMsg, have)
		}
	})
	reload(syscall.SIGHUP)
	waitRun(t, done)
	if msg := systemd.pending(); msg != "" {
		t.Errorf("after STOPPING=1, SystemdReload sent %q", msg)
	}
}
