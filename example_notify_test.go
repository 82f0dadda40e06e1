package troupe_test

import (
	"context"
	"fmt"
	"os"

	"github.com/troupe-go/troupe"
)

// Under systemd, a unit with Type=notify-reload (or Type=notify) and
// WatchdogSec= hears when the group is ready, when it stops and when it
// reloads, and that it is alive. Outside systemd, with no NOTIFY_SOCKET,
// the same main runs and nothing is sent.
func ExampleSystemdNotify() {
	var g troupe.Group
	g.Add(troupe.SystemdNotify(&g)).Name("systemd")
	g.Add(troupe.OnSignal(troupe.SystemdReload(&g, func(os.Signal) {
		// Read the configuration again.
	}))).Name("reload")
	g.Go(func(ctx context.Context) error {
		if err := g.WaitReady(ctx); err != nil {
			return err
		}
		fmt.Println("state:", g.State())
		g.Stop() // under systemd, systemctl stop sends SIGTERM instead
		<-ctx.Done()
		return nil
	}).Name("server")

	err := g.Run()
	fmt.Println("state:", g.State(), "exit code:", troupe.ExitCode(err))
	// Output:
	// state: ready
	// state: stopped exit code: 0
}
