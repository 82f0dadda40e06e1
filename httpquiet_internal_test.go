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
	q := &requests{conns: map[net.Conn]connInfo{conn: {state: http.StateIdle, since: began, received: 0}}}

	next, done := q.unsettled(began, began)
	if done || !next.Equal(began.Add(idleGrace)) {
		t.Errorf("silent: unsettled() = %v, %v; want the idle grace's end", next.Sub(began), done)
	}
	if _, done := q.unsettled(began.Add(idleGrace), began); !done {
		t.Error("silent past the idle grace: not done")
	}

	conn.received.Add(4) // "GET "
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
