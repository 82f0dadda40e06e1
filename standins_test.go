package troupe_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// lineServer stands in for *grpc.Server in this package's tests and
// examples, which must not import grpc (it would enter the library's
// go.mod): it has the same Serve, GracefulStop and Stop, and answers each
// connection with one line. The tests against a real grpc server are in
// examples/grpctest.
type lineServer struct {
	line    string
	mu      sync.Mutex
	ln      net.Listener
	stopped bool
	served  chan struct{} // closed when Serve returns
}

func (s *lineServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		ln.Close()
		return errors.New("lineserver: stopped before Serve")
	}
	s.ln, s.served = ln, make(chan struct{})
	s.mu.Unlock()
	defer close(s.served)
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.stopped {
				return nil
			}
			return err
		}
		io.WriteString(c, s.line+"\n")
		c.Close()
	}
}

func (s *lineServer) GracefulStop() {
	s.mu.Lock()
	s.stopped = true
	ln, served := s.ln, s.served
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
		<-served
	}
}

func (s *lineServer) Stop() { s.GracefulStop() }

// readLine dials addr and reads the line a lineServer answers with.
func readLine(addr string) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return bufio.NewReader(c).ReadString('\n')
}

// newSelfSignedCert makes a certificate for 127.0.0.1 that lasts an hour.
func newSelfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// selfSignedPair gives a server's TLS configuration and a client that
// trusts it, for the examples.
func selfSignedPair() (*tls.Config, *http.Client) {
	cert, err := newSelfSignedCert()
	if err != nil {
		panic(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	return &tls.Config{Certificates: []tls.Certificate{cert}},
		&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
}

// exampleLogger writes text logs to stdout without times or durations, so
// that examples can show them.
func exampleLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "duration", "elapsed", "shutdown":
				return slog.Attr{}
			}
			return a
		},
	}))
}
