package troupe_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/run"
	"github.com/troupe-go/troupe"
	"google.golang.org/grpc"
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

func TestAdaptersRefuseNilInputsThroughRun(t *testing.T) {
	for name, pair := range map[string]func() (func() error, func(error)){
		"Closer":     func() (func() error, func(error)) { return troupe.Closer(nil) },
		"CloseFunc":  func() (func() error, func(error)) { return troupe.CloseFunc(nil) },
		"HTTPServer": func() (func() error, func(error)) { return troupe.HTTPServer(nil) },
		"GRPCServer": func() (func() error, func(error)) { return troupe.GRPCServer(nil, nil) },
		"Ticker":     func() (func() error, func(error)) { return troupe.Ticker(time.Second, nil) },
	} {
		var g troupe.Group
		g.Add(pair()).Name(strings.ToLower(name))
		err := g.Run()
		if !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), `actor "`+strings.ToLower(name)+`": nil execute`) {
			t.Errorf("%s(nil): Run() = %v, want ErrInvalid naming the actor", name, err)
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
	g.Add(troupe.GRPCServer(grpc.NewServer(), grpcLn))

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
