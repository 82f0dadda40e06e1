package troupe_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/run"
	"github.com/troupe-go/troupe"
)

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func TestFuncReturnsNilWhenCancelledAndTheErrorOtherwise(t *testing.T) {
	execute, interrupt := troupe.Func(func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	interrupt(errors.New("stop"))
	if err := execute(); err != nil {
		t.Errorf("cancelled: execute() = %v, want nil", err)
	}

	boom := errors.New("boom")
	execute, _ = troupe.Func(func(ctx context.Context) error { return boom })
	if err := execute(); !errors.Is(err, boom) {
		t.Errorf("failing: execute() = %v, want boom", err)
	}
}

func TestFuncKeepsARealErrorReturnedAfterTheCancellation(t *testing.T) {
	flush := errors.New("flush failed")
	execute, interrupt := troupe.Func(func(ctx context.Context) error {
		<-ctx.Done()
		return flush
	})
	interrupt(nil)
	if err := execute(); !errors.Is(err, flush) {
		t.Fatalf("execute() = %v, want the flush error", err)
	}
}

func TestCloserClosesOnlyAfterTheStageBeforeItHasStopped(t *testing.T) {
	var g troupe.Group
	httpDone := make(chan struct{})
	var closedAfterHTTP atomic.Bool
	g.Go(func(ctx context.Context) error {
		<-ctx.Done()
		close(httpDone)
		return nil
	}).Name("http")
	g.Add(troupe.Closer(closerFunc(func() error {
		select {
		case <-httpDone:
			closedAfterHTTP.Store(true)
		default:
		}
		return nil
	}))).Name("db").StopAfter("http")
	g.Add(returnsNow(nil)).Name("trigger")
	if err := g.Run(); err != nil {
		t.Fatal(err)
	}
	if !closedAfterHTTP.Load() {
		t.Error("db closed before http stopped")
	}
}

func TestCloserErrorIsReported(t *testing.T) {
	var g troupe.Group
	closeErr := errors.New("close failed")
	g.Add(troupe.CloseFunc(func() error { return closeErr })).Name("db")
	g.Add(returnsNow(nil)).Name("trigger")
	err := g.Run()
	var ae *troupe.ActorError
	if !errors.Is(err, closeErr) || !errors.As(err, &ae) || ae.Actor != "db" {
		t.Fatalf("Run() = %v, want db's close error", err)
	}
}

// Adapters report bad arguments by panicking at construction, as
// time.NewTicker does: their pairs must work in a plain run.Group too, which
// could report nothing, and a panic names the argument before anything
// starts.
func TestAdaptersPanicAtConstructionOnBadArguments(t *testing.T) {
	ln := listen(t)
	defer ln.Close()
	fn := func(context.Context) error { return nil }
	for _, tc := range []struct {
		call func()
		want string
	}{
		{func() { troupe.HTTPServer(nil) }, "troupe: HTTPServer: nil *http.Server"},
		{func() { troupe.GRPCServer(nil, ln) }, "troupe: GRPCServer: nil server"},
		{func() { troupe.GRPCServer((*lineServer)(nil), ln) }, "troupe: GRPCServer: nil server"},
		{func() { troupe.GRPCServer(&lineServer{}, nil) }, "troupe: GRPCServer: nil listener"},
		{func() { troupe.Ticker(0, fn) }, "troupe: Ticker: non-positive interval 0s"},
		{func() { troupe.Ticker(-time.Second, fn) }, "troupe: Ticker: non-positive interval -1s"},
		{func() { troupe.Ticker(time.Second, nil) }, "troupe: Ticker: nil function"},
		{func() { troupe.Jitter(-time.Second) }, "troupe: Jitter: negative duration -1s"},
		{func() { troupe.Func(nil) }, "troupe: Func: nil function"},
		{func() { troupe.Closer(nil) }, "troupe: Closer: nil io.Closer"},
		{func() { troupe.CloseFunc(nil) }, "troupe: CloseFunc: nil function"},
		{func() { var none context.Context; troupe.Context(none) }, "troupe: Context: nil context"},
		{func() { troupe.OnSignal(nil) }, "troupe: OnSignal: nil function"},
		{func() { troupe.Listener(nil) }, "troupe: Listener: nil listener"},
		{func() { troupe.DrainTimeout(-time.Second) }, "troupe: DrainTimeout: negative duration -1s"},
		{func() { troupe.BeforeStop(nil) }, "troupe: BeforeStop: nil function"},
	} {
		if have := panicMessage(tc.call); have != tc.want {
			t.Errorf("panic %q, want %q", have, tc.want)
		}
	}
}

// Every adapter's pair works in a plain run.Group, and they all stop
// cleanly when one actor returns.
func TestEveryAdapterWorksInARunGroup(t *testing.T) {
	var g run.Group

	httpLn := listen(t)
	g.Add(troupe.HTTPServer(&http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}, troupe.Listener(httpLn)))

	grpcLn := listen(t)
	g.Add(troupe.GRPCServer(&lineServer{line: "hi"}, grpcLn))

	g.Add(troupe.Ticker(time.Millisecond, func(ctx context.Context) error { return nil }))
	g.Add(troupe.Func(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }))
	var closed atomic.Bool
	g.Add(troupe.Closer(closerFunc(func() error { closed.Store(true); return nil })))
	g.Add(troupe.Context(context.Background()))
	g.Add(troupe.Signals(os.Interrupt))
	g.Add(troupe.OnSignal(func(os.Signal) {}, os.Interrupt))

	done := errors.New("served one request")
	g.Add(func() error {
		resp, err := http.Get("http://" + httpLn.Addr().String() + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return done
	}, func(error) {})

	if err := g.Run(); !errors.Is(err, done) {
		t.Fatalf("run.Group.Run() = %v, want the first actor's result", err)
	}
	if !closed.Load() {
		t.Error("the closer was not closed")
	}
}
