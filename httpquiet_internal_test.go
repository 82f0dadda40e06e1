package troupe

import (
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"
)

// A kept-alive connection is left to Shutdown once idle for idleGrace;
// one on which the next request has begun to arrive is waited for as long
// as a silent new connection, and then left to Shutdown too.
func TestUnsettledWaitsForAKeptAliveConnectionWhoseRequestBegan(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	defer server.Close()
	conn := &cutConn{Conn: server, q: newRequests()}
	began := time.Now()
	q := &requests{conns: map[net.Conn]connInfo{conn: {state: http.StateIdle, since: began, read: conn.progress()}}}

	next, done := q.unsettled(began, began)
	if done || !next.Equal(began.Add(idleGrace)) {
		t.Errorf("silent: unsettled() = %v, %v; want the idle grace's end", next.Sub(began), done)
	}
	if _, done := q.unsettled(began.Add(idleGrace), began); !done {
		t.Error("silent past the idle grace: not done")
	}

	conn.reads.Add(1) // "GET "
	next, done = q.unsettled(began.Add(idleGrace), began)
	if done || !next.Equal(began.Add(newConnPatience)) {
		t.Errorf("request begun: unsettled() = %v, %v; want newConnPatience's end", next.Sub(began), done)
	}
	if _, done := q.unsettled(began.Add(newConnPatience), began); !done {
		t.Error("a header unfinished past newConnPatience: not done")
	}
}

// The drain settles a TLS server only when net/http itself would not offer
// HTTP/2 on it.
func TestTLSMaySpeakHTTP2FollowsNetHTTPsRule(t *testing.T) {
	protocols := func(h1, h2 bool) *http.Protocols {
		var p http.Protocols
		p.SetHTTP1(h1)
		p.SetHTTP2(h2)
		return &p
	}
	withH2 := map[string]func(*http.Server, *tls.Conn, http.Handler){"h2": nil}
	for _, tc := range []struct {
		name string
		srv  *http.Server
		want bool
	}{
		{"the default", &http.Server{}, true},
		{"an empty TLSNextProto", &http.Server{TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}, false},
		{"a TLSNextProto with h2", &http.Server{TLSNextProto: withH2}, true},
		{"Protocols HTTP/1 only", &http.Server{Protocols: protocols(true, false)}, false},
		{"Protocols with HTTP/2", &http.Server{Protocols: protocols(true, true)}, true},
		{"Protocols win over TLSNextProto", &http.Server{Protocols: protocols(true, false), TLSNextProto: withH2}, false},
	} {
		if got := tlsMaySpeakHTTP2(tc.srv); got != tc.want {
			t.Errorf("%s: tlsMaySpeakHTTP2() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A connection that begins with HTTP/2's preface is told from an HTTP/1
// one however the preface is split across reads, and only on a server
// that speaks HTTP/2 without TLS.
func TestCutConnKnowsAnUnencryptedHTTP2ConnectionByItsPreface(t *testing.T) {
	const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	for _, tc := range []struct {
		name   string
		h2c    bool // the server speaks HTTP/2 without TLS
		sent   string
		chunk  int
		marked bool
	}{
		{"the preface at once", true, preface, len(preface), true},
		{"the preface a byte at a time", true, preface, 1, true},
		{"the preface in fives", true, preface, 5, true},
		{"an HTTP/1 request", true, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 4, false},
		{"a request for PRI's lookalike", true, "PRI / HTTP/1.1\r\nHost: x\r\n\r\n", 64, false},
		{"the preface, on a server without h2c", false, preface, len(preface), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := net.Pipe()
			defer server.Close()
			q := newRequests()
			q.unencryptedHTTP2 = tc.h2c
			conn := &cutConn{Conn: server, q: q}
			go func() {
				defer client.Close()
				for rest := tc.sent; rest != ""; {
					n := min(tc.chunk, len(rest))
					if _, err := client.Write([]byte(rest[:n])); err != nil {
						return
					}
					rest = rest[n:]
				}
			}()
			buf := make([]byte, 64)
			got := 0
			for got < len(tc.sent) {
				n, err := conn.Read(buf)
				got += n
				if err != nil {
					t.Fatalf("after %d bytes: %v", got, err)
				}
			}
			if conn.unencryptedHTTP2.Load() != tc.marked {
				t.Errorf("marked as HTTP/2: %v, want %v", conn.unencryptedHTTP2.Load(), tc.marked)
			}
			if conn.received.Load() != uint64(len(tc.sent)) {
				t.Errorf("received = %d, want %d", conn.received.Load(), len(tc.sent))
			}
		})
	}
}

// requestBegun reads each sign net/http leaves of a next request that has
// begun on a kept-alive connection, and none on a silent one.
func TestRequestBegunReadsEachSignOfTheNextRequest(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after func(c *cutConn) // what happens once the connection is idle
		ahead bool             // a byte was read ahead before it went idle
		want  bool
	}{
		{"silent", func(c *cutConn) {}, false, false},
		{"one read deadline (set as it goes idle)", func(c *cutConn) { c.SetReadDeadline(time.Time{}) }, false, false},
		{"a read after", func(c *cutConn) { c.reads.Add(1) }, false, true},
		{"a byte read ahead before", func(c *cutConn) {}, true, true},
		{"a second read deadline: four bytes were in", func(c *cutConn) {
			c.SetReadDeadline(time.Time{})
			c.SetReadDeadline(time.Time{})
		}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := net.Pipe()
			defer client.Close()
			defer server.Close()
			c := &cutConn{Conn: server, q: newRequests()}
			c.readAhead.Store(tc.ahead)
			idleAt := c.progress()
			tc.after(c)
			if got := requestBegun(c, idleAt); got != tc.want {
				t.Errorf("requestBegun() = %v, want %v", got, tc.want)
			}
		})
	}
	server, client := net.Pipe()
	defer client.Close()
	defer server.Close()
	if requestBegun(server, readProgress{}) {
		t.Error("requestBegun() = true for a connection the adapter did not wrap")
	}
}

// Only a one-byte read, net/http's background read, marks a byte read
// ahead of the next request; a request's own reads do not.
func TestCutConnMarksOnlyAOneByteReadAsReadAhead(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	go func() {
		defer client.Close()
		client.Write([]byte("GET / HTTP/1.1\r\n"))
		client.Write([]byte("G"))
	}()
	c := &cutConn{Conn: server, q: newRequests()}
	if _, err := c.Read(make([]byte, 64)); err != nil || c.readAhead.Load() {
		t.Fatalf("after a request's read: read ahead %v, %v", c.readAhead.Load(), err)
	}
	if _, err := c.Read(make([]byte, 1)); err != nil || !c.readAhead.Load() {
		t.Errorf("after a one-byte read: read ahead %v, %v", c.readAhead.Load(), err)
	}
}
