package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/troupe-go/troupe"
)

func TestServeInterruptsThePairWithTheCauseWhenTheContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	p := newProbe(nil)
	served := make(chan error, 1)
	go func() { served <- troupe.Serve(ctx, p.execute, p.interrupt) }()
	why := errors.New("another goroutine failed")
	cancel(why)
	if err := <-served; err != nil {
		t.Fatalf("Serve() = %v, want nil", err)
	}
	if want, have := int32(1), p.calls.Load(); want != have {
		t.Errorf("interrupt calls: want %d, have %d", want, have)
	}
	if !errors.Is(p.gotCause(), why) {
		t.Errorf("interrupt's cause = %v, want the context's", p.gotCause())
	}
}

// An execute that returns first gives its error, and the interrupt is
// still called once, so that the pair releases what it holds.
func TestServeReturnsWhatExecuteReturnsFirstAndStillInterrupts(t *testing.T) {
	for _, ret := range []error{nil, errors.New("listener died")} {
		var calls atomic.Int32
		var cause error
		err := troupe.Serve(context.Background(), func() error { return ret }, func(c error) {
			calls.Add(1)
			cause = c
		})
		if err != ret {
			t.Errorf("Serve() = %v, want %v", err, ret)
		}
		if calls.Load() != 1 {
			t.Errorf("returned %v: interrupt calls: want 1, have %d", ret, calls.Load())
		}
		if want := ret; want == nil && !errors.Is(cause, troupe.ErrReturned) || want != nil && cause != want {
			t.Errorf("returned %v: interrupt's cause = %v", ret, cause)
		}
	}
}

// The pair's real failures survive the cancellation; only echoes are
// dropped.
func TestServeKeepsARealErrorReturnedAfterTheCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	flush := fmt.Errorf("flush: %w", context.Canceled)
	p := newProbe(flush)
	if err := troupe.Serve(ctx, p.execute, p.interrupt); err != flush {
		t.Fatalf("Serve() = %v, want the flush error", err)
	}
	echo := newProbe(context.Canceled)
	if err := troupe.Serve(ctx, echo.execute, echo.interrupt); err != nil {
		t.Fatalf("Serve() = %v, want nil for a bare context.Canceled", err)
	}
}

func TestServeTurnsPanicsIntoErrors(t *testing.T) {
	err := troupe.Serve(context.Background(), func() error { panic("execute broke") }, func(error) {})
	var pe *troupe.PanicError
	if !errors.As(err, &pe) || pe.Value != "execute broke" {
		t.Errorf("Serve() = %v, want execute's panic", err)
	}
	err = troupe.Serve(context.Background(), func() error { return nil }, func(error) { panic("interrupt broke") })
	if !errors.As(err, &pe) || pe.Value != "interrupt broke" {
		t.Errorf("Serve() = %v, want interrupt's panic", err)
	}
}

func TestServeRefusesNilArguments(t *testing.T) {
	ok, stop := func() error { return nil }, func(error) {}
	var none context.Context
	for _, tc := range []struct {
		call func()
		want string
	}{
		{func() { troupe.Serve(none, ok, stop) }, "troupe: Serve: nil context"},
		{func() { troupe.Serve(context.Background(), nil, stop) }, "troupe: Serve: nil execute function"},
		{func() { troupe.Serve(context.Background(), ok, nil) }, "troupe: Serve: nil interrupt function"},
	} {
		if have := panicMessage(tc.call); have != tc.want {
			t.Errorf("panic %q, want %q", have, tc.want)
		}
	}
}

// The HTTP adapter under Serve drains its requests when the context ends.
func TestServeDrainsAnHTTPServerWhenTheContextEnds(t *testing.T) {
	const inFlight = 10
	entered, release := make(chan struct{}, inFlight), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, "done")
	})}
	ln := listen(t)
	execute, interrupt := troupe.HTTPServer(srv, troupe.Listener(ln))
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- troupe.Serve(ctx, execute, interrupt) }()
	client := newClient()
	defer client.CloseIdleConnections()
	var bodies []<-chan string
	for range inFlight {
		bodies = append(bodies, fetch(client, "http://"+ln.Addr().String()+"/"))
	}
	for range inFlight {
		<-entered
	}
	cancel()
	untilRefused(t, ln.Addr().String())
	close(release)
	for _, body := range bodies {
		if b := <-body; b != "done" {
			t.Errorf("an in-flight request got %q, want done", strings.TrimSpace(b))
		}
	}
	if err := <-served; err != nil {
		t.Errorf("Serve() = %v, want nil", err)
	}
}
