//go:build linux

package troupe_test

import (
	"context"
	"crypto/rand"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/troupe-go/troupe"
)

// A NOTIFY_SOCKET beginning with @ names a socket in Linux's abstract
// namespace, as systemd's own does in a container.
func TestSystemdNotifyReachesAnAbstractSocket(t *testing.T) {
	name := "@troupe-test-" + rand.Text()
	notifySequence(t, listenSystemd(t, name))
	if _, err := os.Lstat(name); !os.IsNotExist(err) {
		t.Fatalf("a file %q exists (%v): the socket is not abstract", name, err)
	}
}

// MONOTONIC_USEC is read from CLOCK_MONOTONIC, which never runs ahead of
// CLOCK_BOOTTIME, the clock of /proc/uptime; another clock, such as the
// wall clock's microseconds since 1970, would.
func TestSystemdReloadSendsTheMonotonicClock(t *testing.T) {
	systemd := listenSystemd(t, socketPath(t))
	var g troupe.Group
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("server")
	done := runAsync(&g)
	if err := g.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	troupe.SystemdReload(&g, func(os.Signal) {})(syscall.SIGHUP)
	g.Stop()
	waitRun(t, done)

	_, digits, _ := strings.Cut(systemd.next(), "MONOTONIC_USEC=")
	sent, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || sent <= 0 {
		t.Fatalf("MONOTONIC_USEC=%q", digits)
	}
	uptime, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Skip(err)
	}
	seconds, _, _ := strings.Cut(string(uptime), " ")
	boot, err := strconv.ParseFloat(seconds, 64)
	if err != nil {
		t.Fatalf("/proc/uptime: %q", uptime)
	}
	if limit := int64(boot*1e6) + 1e6; sent > limit { // /proc/uptime has two decimals
		t.Fatalf("MONOTONIC_USEC=%d, beyond the %d µs since boot", sent, limit)
	}
}
