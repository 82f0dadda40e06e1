package troupe

import (
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SystemdNotify returns an actor that tells systemd how the group g is
// doing, for a service of Type=notify or Type=notify-reload. Add it to g
// itself:
//
//	g.Add(troupe.SystemdNotify(&g)).Name("systemd")
//
// It sends READY=1 once every actor of g is ready, and STOPPING=1 the
// moment g's shutdown begins, before the [Group.StopDelay] and the
// interrupts; each with a STATUS= line for systemctl status: "ready", or
// "stopping: " and the shutdown's cause. A group that stops before it is
// ready sends only STOPPING=1, and systemd marks the start failed.
//
// With WatchdogSec= in the unit, it also sends WATCHDOG=1 every half of
// WATCHDOG_USEC, unless WATCHDOG_PID names another process, from READY=1
// to STOPPING=1. That is when systemd's watchdog is armed: systemd arms
// it at READY=1 and disarms it once the service stops, but a ping arms it
// in any state. Pings until the interrupt, or before READY=1, would leave
// it armed while the group shuts down, and a drain that outlasted the
// pings would be aborted. TimeoutStopSec, from STOPPING=1, bounds the
// stop instead: set it above [Group.ShutdownTimeout].
//
// It reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID when execute
// begins, and never unsets them: a child process inherits them. Without
// NOTIFY_SOCKET it sends nothing and returns nil once interrupted, so the
// same main runs outside systemd. NOTIFY_SOCKET must be an absolute path,
// or an abstract name beginning with @ (Linux). It holds one socket for
// the run. A send blocks while systemd's queue is full, as sd_notify's
// does; [Group.ShutdownTimeout] bounds a shutdown held by one.
//
// A NOTIFY_SOCKET it cannot use, a malformed WATCHDOG_USEC or
// WATCHDOG_PID, or a failed send makes execute return an error, and so
// stops the group: told nothing, systemd would kill the service at
// TimeoutStartSec, or by its watchdog, without saying why. It panics if g
// is nil.
func SystemdNotify(g *Group) (execute func() error, interrupt func(error)) {
	if g == nil {
		panic("troupe: SystemdNotify: nil group")
	}
	n := &notifier{group: g, stop: make(chan struct{})}
	return n.execute, n.interrupt
}

type notifier struct {
	group *Group
	stop  chan struct{} // closed by the interrupt
	once  sync.Once
}

func (n *notifier) interrupt(error) { n.once.Do(func() { close(n.stop) }) }

func (n *notifier) execute() error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		<-n.stop
		return nil
	}
	every, err := watchdogInterval()
	if err != nil {
		return err
	}
	conn, err := dialSystemd(path)
	if err != nil {
		return err
	}
	defer conn.Close()
	var pinger *time.Ticker
	var ping <-chan time.Time
	defer func() {
		if pinger != nil {
			pinger.Stop()
		}
	}()
	ready, stopping, _ := n.group.status.watch()
	for {
		select {
		case <-ready:
			ready = nil
			if err := send(conn, "READY=1", "STATUS=ready"); err != nil {
				return err
			}
			if every > 0 {
				pinger = time.NewTicker(every)
				ping = pinger.C
			}
		case <-ping:
			if err := send(conn, "WATCHDOG=1"); err != nil {
				return err
			}
		case <-stopping:
			return n.stopping(conn, ready)
		case <-n.stop:
			// Under g, Stopping comes before any interrupt; in a plain
			// run.Group it may never come.
			select {
			case <-stopping:
				return n.stopping(conn, ready)
			default:
				return nil
			}
		}
	}
}

// stopping says the shutdown has begun, after READY=1 if the group was
// ready and systemd has not heard it yet (both channels close at once for
// a group stopped as it became ready): a service that exits without having
// said READY=1 failed to start, for systemd.
func (n *notifier) stopping(conn *net.UnixConn, ready <-chan struct{}) error {
	if ready != nil {
		select {
		case <-ready:
			if err := send(conn, "READY=1", "STATUS=ready"); err != nil {
				return err
			}
		default:
		}
	}
	cause := "stop requested"
	if err := n.group.status.stopCause(); err != nil {
		// A STATUS= value ends at a newline; a panic's first line says it.
		cause, _, _ = strings.Cut(err.Error(), "\n")
	}
	if err := send(conn, "STOPPING=1", "STATUS=stopping: "+cause); err != nil {
		return err
	}
	<-n.stop
	return nil
}

// SystemdReload wraps a reload function for [OnSignal], so that systemd
// hears of the reload (Type=notify-reload requires it): RELOADING=1 with
// MONOTONIC_USEC= in one message before fn, and READY=1 after it.
//
//	g.Add(troupe.OnSignal(troupe.SystemdReload(&g, reload))).Name("reload")
//
// It tells only of a reload while g is [Ready]: a READY=1 during the start
// would tell systemd the service had started before it has, and one
// during the shutdown would mean nothing. fn is called in every state.
//
// It reads NOTIFY_SOCKET at each call, and sends nothing without it.
// MONOTONIC_USEC is sent on Linux only, where systemd runs. A failed send
// is ignored, as fn's signature leaves no room for it: the reload is done
// anyway, and systemd, having heard nothing, times the reload out and
// says so in its own log. It panics if g or fn is nil.
func SystemdReload(g *Group, fn func(os.Signal)) func(os.Signal) {
	if g == nil || fn == nil {
		panic("troupe: SystemdReload: nil group or function")
	}
	return func(sig os.Signal) {
		if g.State() != Ready {
			fn(sig)
			return
		}
		reloading := []string{"RELOADING=1"}
		if usec, ok := monotonicUsec(); ok {
			reloading = append(reloading, "MONOTONIC_USEC="+strconv.FormatInt(usec, 10))
		}
		notifyOnce(reloading...)
		fn(sig)
		if g.State() == Ready { // a stop begun during fn has said STOPPING=1
			notifyOnce("READY=1")
		}
	}
}

// notifyOnce sends one message on a socket of its own; SystemdReload has
// nowhere to report an error.
func notifyOnce(lines ...string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	if conn, err := dialSystemd(path); err == nil {
		send(conn, lines...)
		conn.Close()
	}
}

// dialSystemd connects to NOTIFY_SOCKET. Go's net package itself maps a
// leading @ to the NUL byte of Linux's abstract namespace.
func dialSystemd(path string) (*net.UnixConn, error) {
	if !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "@") {
		return nil, fmt.Errorf("troupe: systemd notify: unsupported NOTIFY_SOCKET %q: want an absolute path or an abstract name beginning with @", path)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("troupe: systemd notify: %w", err)
	}
	return conn, nil
}

// send writes one datagram: systemd reads a message as one datagram of
// newline-separated assignments.
func send(conn *net.UnixConn, lines ...string) error {
	if _, err := conn.Write([]byte(strings.Join(lines, "\n"))); err != nil {
		return fmt.Errorf("troupe: systemd notify: %w", err)
	}
	return nil
}

// watchdogInterval gives half of WATCHDOG_USEC, as systemd advises, or 0
// when there is no watchdog for this process.
func watchdogInterval() (time.Duration, error) {
	usec := os.Getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, nil
	}
	u, err := strconv.ParseInt(usec, 10, 64)
	if err == nil && (u <= 0 || u > math.MaxInt64/int64(time.Microsecond)) {
		err = strconv.ErrRange
	}
	if err != nil {
		return 0, fmt.Errorf("troupe: systemd notify: malformed WATCHDOG_USEC %q: %w", usec, err)
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil {
			return 0, fmt.Errorf("troupe: systemd notify: malformed WATCHDOG_PID %q: %w", pid, err)
		}
		if p != os.Getpid() {
			return 0, nil
		}
	}
	return time.Duration(u) * time.Microsecond / 2, nil
}
