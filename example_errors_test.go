package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/troupe-go/troupe"
)

// A panic in an actor becomes an error that names the actor and keeps the
// stack, and the rest of the group still shuts down gracefully.
func ExamplePanicError() {
	var g troupe.Group
	g.Go(func(ctx context.Context) error {
		<-ctx.Done()
		fmt.Println("server drained")
		return nil
	}).Name("server")
	firstByte := func(s string) byte { return s[0] }
	g.Add(func() error {
		firstByte("") // a bug: index out of range
		return nil
	}, func(error) {}).Name("worker")

	err := g.Run()
	var pe *troupe.PanicError
	var ae *troupe.ActorError
	if errors.As(err, &pe) && errors.As(err, &ae) {
		fmt.Println("actor:", ae.Actor)
		fmt.Println("panic:", pe.Value)
		fmt.Println("stack kept:", strings.Contains(string(pe.Stack), "ExamplePanicError"))
	}
	// Output:
	// server drained
	// actor: worker
	// panic: runtime error: index out of range [0] with length 0
	// stack kept: true
}

// ActorError names the actor behind each error that Run returns; the
// first is the one that began the shutdown.
func ExampleActorError() {
	var g troupe.Group
	g.Add(func() error { return errors.New("disk full") }, func(error) {}).Name("writer")
	g.Go(func(ctx context.Context) error {
		<-ctx.Done()
		return errors.New("flush failed")
	}).Name("exporter")

	err := g.Run()
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ae *troupe.ActorError
		if errors.As(e, &ae) {
			fmt.Printf("%s: %v\n", ae.Actor, ae.Err)
		}
	}
	// Output:
	// writer: disk full
	// exporter: flush failed
}

// A misconfigured group is refused before any actor starts, with every
// problem listed at once; and a Group runs only once.
func ExampleGroup_Run_invalid() {
	var g troupe.Group
	g.Add(func() error { return nil }, func(error) {}).Name("db").StopAfter("htttp")
	g.Go(nil).Name("cache")

	err := g.Run()
	fmt.Println(errors.Is(err, troupe.ErrInvalid))
	fmt.Println(err)
	fmt.Println(errors.Is(g.Run(), troupe.ErrAlreadyRun))
	// Output:
	// true
	// troupe: actor "cache": nil context function
	// troupe: actor "db": StopAfter names unknown actor "htttp"
	// true
}

// An actor's own Timeout lets later stages go ahead without it; Run then
// names it, unless it finished before the end.
func ExampleActor_Timeout() {
	var g troupe.Group
	stuck := make(chan struct{})
	g.Add(func() error { <-stuck; return nil }, func(error) {
		// Ignores the interrupt, like a consumer stuck on a broker.
	}).Name("consumer").Timeout(50 * time.Millisecond)
	g.Add(troupe.CloseFunc(func() error {
		fmt.Println("db closed")
		return nil
	})).Name("db").StopAfter("consumer")
	g.Go(func(ctx context.Context) error { return nil }).Name("job")

	err := g.Run()
	fmt.Println(err)
	fmt.Println(errors.Is(err, troupe.ErrShutdownTimeout))
	close(stuck)
	// Output:
	// db closed
	// troupe: actor timeout passed; still running: "consumer"
	// true
}
