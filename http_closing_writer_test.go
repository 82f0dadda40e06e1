package troupe_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// flushErrAfterClientLeft serves a streaming handler that, as many do,
// ignores Write errors and stops when http.ResponseController's Flush
// fails. The client reads the first chunk and hangs up. It reports
// whether the handler ever saw a Flush error.
func flushErrAfterClientLeft(t *testing.T, inGroup bool) bool {
	t.Helper()
	sawErr := make(chan bool, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		chunk := make([]byte, 32<<10)
		for range 400 { // about 2s at most
			w.Write(chunk) // errors ignored: the Flush says
			if err := rc.Flush(); err != nil {
				sawErr <- true
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		sawErr <- false
	})}
	ln := listen(t)
	var g troupe.Group
	var ran <-chan error
	var execute func() error
	var interrupt func(error)
	done := make(chan error, 1)
	if inGroup {
		g.Add(troupe.HTTPServer(srv, troupe.Listener(ln))).Name("http")
		ran = runReady(t, &g)
	} else {
		execute, interrupt = troupe.HTTPServer(srv, troupe.Listener(ln))
		go func() { done <- execute() }()
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(resp.Body, make([]byte, 1024))
	c.(*net.TCPConn).SetLinger(0) // the client is gone for good
	c.Close()
	saw := <-sawErr
	if inGroup {
		g.Stop()
		if err := <-ran; troupe.ExitCode(err) != 0 {
			t.Errorf("Run() = %v", err)
		}
	} else {
		interrupt(errors.New("stop"))
		if err := <-done; err != nil {
			t.Errorf("execute() = %v", err)
		}
	}
	return saw
}

// In a Group every HTTP/1 response goes through the writer that adds
// Connection: close during the stop delay; http.ResponseController's
// Flush must still report a dead connection, so that a streaming handler
// learns that its client left.
func TestResponseControllerFlushErrorSurvivesTheGroup(t *testing.T) {
	if !flushErrAfterClientLeft(t, false) {
		t.Fatal("baseline: the bare adapter did not report a Flush error either")
	}
	if !flushErrAfterClientLeft(t, true) {
		t.Error("in a Group, ResponseController.Flush returned nil on a connection the client had reset: the FlushError was dropped by closingWriter")
	}
}

// http.CloseNotifier is deprecated but net/http's writer still offers it,
// and so must a Group's HTTP/1 writer, or old handlers that assert it
// would panic only when run in a Group.
func TestCloseNotifierKeptInAGroup(t *testing.T) {
	got := make(chan bool, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		//lint:ignore SA1019 old handlers assert it; the test is that they still can
		_, ok := w.(http.CloseNotifier)
		got <- ok
	})}
	ln := listen(t)
	var g troupe.Group
	g.Add(troupe.HTTPServer(srv, troupe.Listener(ln))).Name("http")
	ran := runReady(t, &g)
	client := newClient()
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !<-got {
		t.Error("the ResponseWriter in a Group is no http.CloseNotifier; net/http's is")
	}
	g.Stop()
	<-ran
	_ = context.Background
}
