package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/oklog/run"
	"github.com/troupe-go/troupe"
)

// BenchmarkHTTPStopMoment stops an HTTP server while 64 clients on
// loopback send requests that take 1 ms, and counts what the clients saw
// go wrong at the moment of the stop, per stop: requests that failed on a
// connection the client had established (dropped/op: EOF, reset), and
// requests net/http's client sent again after a failure on a reused
// connection (retried/op: a POST would have failed instead). A refused
// dial counts as neither: a load balancer retries it elsewhere, and a
// client whose dial is refused stops. max-dropped and max-retried are the
// worst stops; drain-ms/op is how long Run took to return after the stop.
// Two ways to stop, each with clients that open a new
// connection per request (conn=new) or keep them alive (conn=keepalive):
//
//   - troupe: the HTTPServer adapter;
//   - shutdown: http.Server.Shutdown, with a deadline;
//
// and both again over TLS with HTTP/2 switched off (-tls-h1).
func BenchmarkHTTPStopMoment(b *testing.B) {
	for _, lib := range []struct {
		name  string
		tls   bool
		group func(srv *http.Server, ln net.Listener, stop <-chan struct{}) func() error
	}{
		{"troupe", false, troupeServing()},
		{"shutdown", false, shutdownServing(false)},
		{"troupe-tls-h1", true, troupeServing(troupe.TLS("", ""))},
		{"shutdown-tls-h1", true, shutdownServing(true)},
	} {
		for _, keepAlive := range []bool{false, true} {
			mode := "new"
			if keepAlive {
				mode = "keepalive"
			}
			b.Run("lib="+lib.name+"/conn="+mode, func(b *testing.B) {
				var dropped, retried []int64
				var drain time.Duration
				for b.Loop() {
					d, r, t := stopUnderLoad(b, lib.group, keepAlive, lib.tls)
					dropped, retried, drain = append(dropped, d), append(retried, r), drain+t
				}
				sum := func(s []int64) (n int64) {
					for _, v := range s {
						n += v
					}
					return n
				}
				b.ReportMetric(float64(sum(dropped))/float64(b.N), "dropped/op")
				b.ReportMetric(float64(sum(retried))/float64(b.N), "retried/op")
				b.ReportMetric(float64(slices.Max(dropped)), "max-dropped")
				b.ReportMetric(float64(slices.Max(retried)), "max-retried")
				b.ReportMetric(float64(drain.Microseconds())/1000/float64(b.N), "drain-ms/op")
				b.Logf("per stop: dropped %v, retried %v", dropped, retried)
			})
		}
	}
}

func troupeServing(opts ...troupe.ServerOption) func(*http.Server, net.Listener, <-chan struct{}) func() error {
	return func(srv *http.Server, ln net.Listener, stop <-chan struct{}) func() error {
		g := &troupe.Group{}
		g.Add(troupe.HTTPServer(srv, append([]troupe.ServerOption{troupe.Listener(ln)}, opts...)...))
		g.Add(waitFor(stop))
		return g.Run
	}
}

func shutdownServing(withTLS bool) func(*http.Server, net.Listener, <-chan struct{}) func() error {
	return func(srv *http.Server, ln net.Listener, stop <-chan struct{}) func() error {
		g := &run.Group{}
		g.Add(func() error {
			serve := func() error { return srv.Serve(ln) }
			if withTLS {
				serve = func() error { return srv.ServeTLS(ln, "", "") }
			}
			if err := serve(); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}, func(error) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
		})
		g.Add(waitFor(stop))
		return g.Run
	}
}

// stopUnderLoad runs one stop: it loads the server for a second, stops it,
// and waits for Run and the clients.
func stopUnderLoad(b *testing.B, group func(*http.Server, net.Listener, <-chan struct{}) func() error, keepAlive, withTLS bool) (dropped, retried int64, drain time.Duration) {
	const clients, loadFor, loadAtMost = 64, time.Second, 30 * time.Second
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond) // simulated work
		io.WriteString(w, "ok")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	transport := &http.Transport{MaxIdleConnsPerHost: clients, DisableKeepAlives: !keepAlive}
	if withTLS {
		url = "https://" + ln.Addr().String() + "/"
		srv.TLSConfig, transport.TLSClientConfig = selfSignedTLS(b)
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){} // HTTP/1 only
	}
	stop := make(chan struct{})
	ran := make(chan error, 1)
	runGroup := group(srv, ln, stop)
	go func() { ran <- runGroup() }()

	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: time.Minute}
	var drops, retries atomic.Int64
	done := make(chan struct{})
	giveUp := time.Now().Add(loadAtMost)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for time.Now().Before(giveUp) {
				select {
				case <-done:
					return
				default:
				}
				var gets, gots int
				trace := &httptrace.ClientTrace{
					GetConn: func(string) { gets++ },
					GotConn: func(httptrace.GotConnInfo) { gots++ },
				}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", url, nil)
				resp, err := client.Do(req)
				if gets > 1 {
					retries.Add(1)
				}
				if err != nil {
					if gots < gets && errors.Is(err, syscall.ECONNREFUSED) {
						<-done // a load balancer would go elsewhere
						return
					}
					drops.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	time.Sleep(loadFor) // the load runs for a while: this is the workload, not synchronisation
	stoppedAt := time.Now()
	close(stop)
	if err := <-ran; err != nil {
		b.Errorf("Run() = %v", err)
	}
	drain = time.Since(stoppedAt)
	close(done)
	wg.Wait()
	srv.Close()
	return drops.Load(), retries.Load(), drain
}
