package troupe_test

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/troupe-go/troupe"
)

// A service that systemd may start with its sockets (a unit http.socket
// with FileDescriptorName=http). Without them, as here, Listen listens on
// the address given, so the same main runs under systemd and without it.
func ExampleSystemdSockets() {
	sockets, err := troupe.SystemdSockets()
	if err != nil {
		fmt.Println(err) // a service exits here: its sockets are misconfigured
		return
	}
	ln, err := sockets.Listen("http", "tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})}

	var g troupe.Group
	g.Add(troupe.HTTPServer(srv, troupe.Listener(ln))).Name("http")
	g.Go(func(ctx context.Context) error {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(string(body))
		return nil
	}).Name("client")
	fmt.Println("Run returned", g.Run())
	// Output:
	// hello
	// Run returned <nil>
}
