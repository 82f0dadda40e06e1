package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/run"
	"github.com/troupe-go/troupe"
)

// BenchmarkHTTPDrain stops an HTTP server while 32 clients keep sending
// requests that each take 100ms, and counts the requests the server had
// accepted that never completed with a 200 (dropped/op), how long the
// stop took (drain-ms/op), and how long after the last handler had
// answered Run returned (after-last-ms/op). When Run returns the server is closed, as a
// process that exits would. Three ways to stop it:
//
//   - troupe: the HTTPServer adapter (Shutdown with a fresh deadline);
//   - oklog-recipe: the http.Server recipe from oklog/run's README, which
//     closes the listener;
//   - close: http.Server.Close;
//   - troupe-h2: the adapter again, serving HTTP/2 over TLS to HTTP/2
//     clients, whose connections ignore Connection: close and end with
//     Shutdown's GOAWAY;
//   - troupe-h2c: the same, over unencrypted HTTP/2 (prior knowledge).
func BenchmarkHTTPDrain(b *testing.B) {
	for _, lib := range []struct {
		name  string
		proto protocol
		group func(srv *http.Server, ln net.Listener, stop <-chan struct{}) func() error
	}{
		{"troupe", http1, func(srv *http.Server, ln net.Listener, stop <-chan struct{}) func() error {
			g := &troupe.Group{}
			g.Add(troupe.HTTPServer(srv, troupe.Listener(ln)))
			g.Add(waitFor(stop))
			return g.Run
		}},
		{"oklog-recipe", http1, func(srv *http.Server, ln net.Listener, stop <-chan struct{}) func() error {
			g := &run.Group{}
			g.Add(func() error { return srv.Serve(ln) }, func(error) { ln.Close() })
			g.Add(waitFor(stop))
			return g.Run
		}},
		{"close", http1, func(srv *http.Server, ln net.Listener, stop <-chan struct{}) func() error {
			g := &run.Group{}
			g.Add(func() error { return srv.Serve(ln) }, func(error) { srv.Close() })
			g.Add(waitFor(stop))
			return g.Run
		}},
		{"troupe-h2", http2TLS, func(srv *http.Server, ln net.Listener, stop <-chan struct{}) func() error {
			g := &troupe.Group{}
			g.Add(troupe.HTTPServer(srv, troupe.Listener(ln), troupe.TLS("", "")))
			g.Add(waitFor(stop))
			return g.Run
		}},
		{"troupe-h2c", http2Unencrypted, func(srv *http.Server, ln net.Listener, stop <-chan struct{}) func() error {
			g := &troupe.Group{}
			g.Add(troupe.HTTPServer(srv, troupe.Listener(ln)))
			g.Add(waitFor(stop))
			return g.Run
		}},
	} {
		b.Run("lib="+lib.name, func(b *testing.B) {
			var dropped, served int64
			var drain, afterLast time.Duration
			for b.Loop() {
				d, s, t, a := drainUnderLoad(b, lib.proto, lib.group)
				dropped, served, drain, afterLast = dropped+d, served+s, drain+t, afterLast+a
			}
			b.ReportMetric(float64(dropped)/float64(b.N), "dropped/op")
			b.ReportMetric(float64(served)/float64(b.N), "served/op")
			b.ReportMetric(float64(drain.Milliseconds())/float64(b.N), "drain-ms/op")
			b.ReportMetric(float64(afterLast.Microseconds())/1000/float64(b.N), "after-last-ms/op")
		})
	}
}

// protocol is what the clients and the server of a drain speak.
type protocol int

const (
	http1            protocol = iota
	http2TLS                  // HTTP/2 over TLS
	http2Unencrypted          // HTTP/2 without TLS, by prior knowledge
)

func waitFor(stop <-chan struct{}) (func() error, func(error)) {
	quit := make(chan struct{})
	var once sync.Once
	return func() error {
			select {
			case <-stop:
			case <-quit:
			}
			return nil
		}, func(error) {
			once.Do(func() { close(quit) })
		}
}

func drainUnderLoad(b *testing.B, proto protocol, group func(*http.Server, net.Listener, <-chan struct{}) func() error) (dropped, served int64, drain, afterLast time.Duration) {
	const clients, work, loadAtMost = 32, 100 * time.Millisecond, 10 * time.Second
	var accepted, ok, lastAnswer atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accepted.Add(1)
		time.Sleep(work) // simulated work
		io.WriteString(w, "ok")
		for now := time.Now().UnixNano(); ; {
			last := lastAnswer.Load()
			if now <= last || lastAnswer.CompareAndSwap(last, now) {
				break
			}
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	switch proto {
	case http2TLS:
		url = "https://" + ln.Addr().String() + "/"
		srv.TLSConfig, transport.TLSClientConfig = selfSignedTLS(b)
		transport.ForceAttemptHTTP2 = true
	case http2Unencrypted:
		srv.Protocols, transport.Protocols = new(http.Protocols), new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
		transport.Protocols.SetUnencryptedHTTP2(true)
	}
	stop := make(chan struct{})
	runGroup := group(srv, ln, stop)
	ran := make(chan error, 1)
	go func() { ran <- runGroup() }()

	client := &http.Client{Transport: transport}
	defer client.CloseIdleConnections()
	var stopping atomic.Bool
	giveUp := time.Now().Add(loadAtMost)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for !stopping.Load() && time.Now().Before(giveUp) {
				resp, err := client.Get(url)
				if err != nil {
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == http.StatusOK && string(body) == "ok" {
					ok.Add(1)
				}
			}
		})
	}
	for ok.Load() < 2*clients && time.Now().Before(giveUp) {
		time.Sleep(time.Millisecond) // polling a counter, bounded above
	}
	start := time.Now()
	close(stop)
	<-ran
	returned := time.Now()
	drain = returned.Sub(start)
	if last := time.Unix(0, lastAnswer.Load()); last.After(start) {
		afterLast = returned.Sub(last)
	}
	stopping.Store(true)
	srv.Close() // what exiting the process would do to what is left
	wg.Wait()
	return accepted.Load() - ok.Load(), ok.Load(), drain, afterLast
}

// selfSignedTLS gives a server configuration with a fresh self-signed
// certificate for 127.0.0.1, and a client configuration that trusts it.
func selfSignedTLS(b *testing.B) (server, client *tls.Config) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: pool}
}
