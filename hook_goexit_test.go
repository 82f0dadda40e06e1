package troupe_test

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/troupe-go/troupe"
)

// A BeforeStop hook that calls runtime.Goexit, or panics after one, is
// reported in Run's error as a panic is: the hook's goroutine used to end
// before it could say so, and Run returned nil.
func TestABeforeStopHookThatCallsGoexitIsReported(t *testing.T) {
	for _, tc := range []struct {
		name string
		hook func()
		want string
	}{
		{"Goexit", runtime.Goexit, "http BeforeStop hook: called runtime.Goexit"},
		{"Goexit then panic", func() { goexitThenPanic("hook") }, "http BeforeStop hook: troupe: panic: hook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var g troupe.Group
			g.Add(troupe.HTTPServer(&http.Server{Handler: http.NotFoundHandler()},
				troupe.Listener(ln), troupe.BeforeStop(tc.hook))).Name("http")
			ran := make(chan error, 1)
			go func() { ran <- g.Run() }()
			if err := g.WaitReady(context.Background()); err != nil {
				t.Fatal(err)
			}
			g.Stop()
			err = <-ran
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run() = %v, want it to say %q", err, tc.want)
			}
		})
	}
}
