package grpctest_test

import (
	"net"
	"sync"
	"testing"

	"github.com/troupe-go/troupe"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// runUntilFired adds an actor named "trigger" that returns err when fire
// is closed, and runs the group; ran gives Run's result.
func runUntilFired(g *troupe.Group, err error) (fire chan struct{}, ran <-chan error) {
	fire = make(chan struct{})
	stop := make(chan struct{})
	var once sync.Once
	g.Add(func() error {
		select {
		case <-fire:
			return err
		case <-stop:
			return nil
		}
	}, func(error) { once.Do(func() { close(stop) }) }).Name("trigger")
	result := make(chan error, 1)
	go func() { result <- g.Run() }()
	return fire, result
}
