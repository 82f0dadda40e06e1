package troupe

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// How long the quiet drain waits; see settle.
const (
	// acceptQuiet is how long no connection may arrive before the
	// listener is closed: a handshake begun before the listener stopped
	// taking new ones completes within a round trip.
	acceptQuiet = 20 * time.Millisecond
	// acceptSettleMax bounds the wait for the accept queue, should Serve
	// not take from it (it backs off while out of file descriptors).
	acceptSettleMax = time.Second
	// idleGrace is how long a keep-alive connection must have been idle
	// since the drain began before it is left to Shutdown, which closes
	// it. A client that sends on it as it closes sees its request fail,
	// and net/http's client resends it silently if it may. A busy client
	// reuses its connection within far less, and is answered with
	// Connection: close instead; one idle this long is one its client
	// keeps in a pool.
	idleGrace = 100 * time.Millisecond
	// newConnPatience is how long a connection that has sent no request
	// is waited for, counted from its accept: net/http's Shutdown counts
	// one as idle, and closes it, once it is 5s old.
	newConnPatience = 5 * time.Second
)

// settle is the drain's first step, where the listener allows it (see
// HTTPServer): it returns when Shutdown has nothing left to drop, or at
// the deadline. Where the listener does not allow it, it returns at once
// and the drain begins with Shutdown, as a plain one does.
//
// Shutdown alone drops requests on connections the client had
// established, in three ways: closing the listening socket resets the
// connections still in the kernel's accept queue; net/http drops a request
// it reads once Shutdown has begun; and Shutdown closes idle keep-alive
// connections while their clients send on them. So, in this order:
//
//  1. The listening socket stops taking new connections but keeps its
//     accept queue (see refuseNewConnections): a new dial is refused at
//     once, which a load balancer or client retries elsewhere.
//  2. Every response says Connection: close, so a client learns with its
//     answer that its connection ends, and does not send on it again.
//  3. Serve accepts what was queued until nothing has arrived for
//     acceptQuiet and the queue is empty; then the socket closes.
//  4. It waits until every HTTP/1 connection has closed, but for those
//     idle since the drain began for idleGrace (their clients send
//     nothing) and those silent since their accept for newConnPatience;
//     Shutdown closes those. A connection accepted but whose request has
//     not arrived is waited for, never cut; so is a kept-alive one on
//     which a byte of the next request has arrived, for as long as a new
//     one, since net/http reports it idle until the whole header is in.
//
// HTTP/2 does not honour Connection: close; its connections are left to
// Shutdown's GOAWAY, which tells clients which requests were taken, so
// none is lost. A server that speaks HTTP/2 without TLS cannot tell which
// connections do, and waits only for the accept queue.
//
// Shutting the listener down for reading, or a filter that drops SYNs,
// was tried first: the first resets the accept queue as closing does, and
// Linux refuses the second on a listening socket. Draining the queue for a
// fixed time without stopping new connections made things worse: clients
// told to close reconnected into a queue that was then reset.
func (s *httpActor) settle(ln *cutListener, deadline time.Time) {
	// A server that may speak HTTP/2 is left to Shutdown at once: its
	// HTTP/2 clients hear of the stop only from Shutdown's GOAWAY, and
	// would go on sending, and be cut at the deadline, while the settle
	// waited for its HTTP/1 connections.
	if (s.opts.tls && s.requests.tlsHTTP2) || s.requests.unencryptedHTTP2 {
		return
	}
	release, refusing := refuseNewConnections(ln.Listener, !ln.ownSocket)
	if !refusing {
		return
	}
	ln.release = release
	q := s.requests
	began := time.Now()
	q.draining.Store(true)
	listening := true
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		if !now.Before(deadline) {
			break
		}
		q.mu.Lock()
		next, done := q.unsettled(now, began)
		lastNew := q.lastNew
		if q.changed == nil {
			q.changed = make(chan struct{})
		}
		changed := q.changed
		q.mu.Unlock()
		if listening {
			quietAt := later(began, lastNew).Add(acceptQuiet)
			switch queued, known := acceptQueueLen(ln.Listener); {
			case !now.Before(began.Add(acceptSettleMax)):
				listening = false
			case known && queued > 0:
				// Serve will take them: look again shortly.
				next = earliest(next, now.Add(time.Millisecond))
			case now.Before(quietAt):
				next = earliest(next, quietAt)
			default:
				listening = false
			}
			if !listening {
				ln.hold()
				continue // what was accepted last is in conns now
			}
		}
		if done && !listening {
			break
		}
		next = earliest(next, deadline)
		timer.Reset(next.Sub(now))
		select {
		case <-changed:
		case <-timer.C:
		}
	}
	if listening {
		ln.hold()
	}
}

// unsettled reports whether the drain has no connection left to wait for
// before Shutdown, or else when to look again if nothing changes before;
// q.mu is held. See settle.
func (q *requests) unsettled(now, began time.Time) (next time.Time, done bool) {
	if q.unencryptedHTTP2 {
		return time.Time{}, true
	}
	done = true
	for c, ci := range q.conns {
		var until time.Time
		switch ci.state {
		case http.StateNew:
			until = ci.since.Add(newConnPatience)
		case http.StateActive:
			if speaksHTTP2(c) {
				continue
			}
			return time.Time{}, false // its response will say Connection: close
		case http.StateIdle:
			if speaksHTTP2(c) {
				continue
			}
			until = later(began, ci.since).Add(idleGrace)
			if requestBegun(c, ci.read) {
				// Its next request has begun to arrive: its response
				// will say Connection: close. A header that never
				// completes is waited for as a silent new connection is.
				until = later(began, ci.since).Add(newConnPatience)
			}
		}
		if now.Before(until) {
			done = false
			next = earliest(next, until)
		}
	}
	return next, done
}

// tlsMaySpeakHTTP2 reports whether srv would offer HTTP/2 over TLS, by
// net/http's own rule: its Protocols if set, and otherwise a TLSNextProto
// map without "h2" switches it off. GODEBUG=http2server=0 is not seen
// here; such a server is taken to speak HTTP/2, and drains with Shutdown.
func tlsMaySpeakHTTP2(srv *http.Server) bool {
	if srv.Protocols != nil {
		return srv.Protocols.HTTP2()
	}
	_, h2 := srv.TLSNextProto["h2"]
	return srv.TLSNextProto == nil || h2
}

// speaksHTTP2 reports whether a connection that its server reported
// active or idle speaks HTTP/2: over TLS, its handshake is over, so this
// does not wait for it; without, it began with HTTP/2's preface.
func speaksHTTP2(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		return tc.ConnectionState().NegotiatedProtocol == "h2"
	}
	cc, ok := c.(*cutConn)
	return ok && cc.unencryptedHTTP2.Load()
}

// hold closes the socket, so that the port is free and nothing more is
// queued, while Accept waits for Shutdown's Close. A socket that another
// process may hold takes connections again once closed here; one the
// adapter opened itself has no other holder, and is left refusing them
// until it is gone.
func (l *cutListener) hold() {
	l.held.Store(true)
	l.closeSocket() // its error is execute's, which Close gives again
	if l.release != nil {
		l.release()
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// earliest gives the earlier of a and b, a zero time meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
