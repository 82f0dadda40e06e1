package troupe

import (
	"context"
	"runtime/debug"
)

// Serve runs one execute/interrupt pair until ctx is done, for programs
// that do not adopt [Group], such as an errgroup or conc main:
//
//	execute, interrupt := troupe.HTTPServer(srv)
//	eg.Go(func() error { return troupe.Serve(ctx, execute, interrupt) })
//
// When ctx is done, Serve calls interrupt with the context's cause, and
// returns once execute has returned; so the HTTP server above drains its
// requests, rather than dropping them, when another errgroup goroutine
// fails. If execute returns first, Serve calls interrupt too, so that the
// pair releases what it holds, and returns execute's error. Interrupt is
// called exactly once, always on a goroutine of Serve's own, never on the
// caller's, and Serve returns only after it has returned.
//
// Serve returns nil when execute returned nil, or only echoed the
// interruption (the package documentation lists the echoes). A panic in
// execute or interrupt becomes a [*PanicError], and a runtime.Goexit in
// interrupt an error. A runtime.Goexit in execute goes on up the caller's
// goroutine once interrupt has returned; since Serve cannot return then,
// a panic that followed the Goexit, or interrupt's failure, goes up as a
// panic (a [*PanicError] for a panic), which a [Group] running Serve in an
// actor reports. Serve panics if ctx, execute or interrupt is nil.
//
// To run a whole Group under a context, add the context to it instead:
// g.Add(troupe.Context(ctx)).
func Serve(ctx context.Context, execute func() error, interrupt func(error)) error {
	switch {
	case ctx == nil:
		panic("troupe: Serve: nil context")
	case execute == nil:
		panic("troupe: Serve: nil execute function")
	case interrupt == nil:
		panic("troupe: Serve: nil interrupt function")
	}
	// The interrupt is called on a goroutine of Serve's own, also when
	// execute returns first: not on the caller's, which execute may have
	// locked to a thread it changed, and which a Goexit in the interrupt
	// would end.
	ended := make(chan error, 1)            // execute's error, or errGoexit
	called := make(chan servedInterrupt, 1) // the interrupt has returned
	go func() {
		var done servedInterrupt
		select {
		case <-ctx.Done():
			done.byContext = true
		case err := <-ended:
			// Done as execute returned: the context's end decides, not
			// select's random pick.
			done.byContext = ctx.Err() != nil
			done.cause = endedCause(err)
		}
		if done.byContext {
			done.cause = context.Cause(ctx)
		}
		defer func() { called <- done }() // also after a Goexit
		guarded(&done.err, errInterruptGoexit, func() error { interrupt(done.cause); return nil })
	}()

	var err error
	finished := false
	defer func() {
		if finished {
			return
		}
		// execute called runtime.Goexit: the interrupt is still called,
		// and Serve ends only after it has returned. Serve cannot return
		// what failed, so a panic that followed the Goexit (recovered, and
		// Go then went on with the Goexit) goes on up, as it would have
		// without Serve, and so does the interrupt's failure: a caller
		// that recovers it, as a Group does, reports it.
		ended <- errGoexit
		done := <-called
		if _, panicked := err.(*PanicError); !panicked {
			err = nil
		}
		if failed := join(err, done.err); failed != nil {
			panic(failed)
		}
	}()
	guarded(&err, errGoexit, execute)
	finished = true
	ended <- err
	done := <-called
	if isEcho(err, done.byContext, done.cause) {
		err = nil // the interruption's echo, or http.ErrServerClosed, as Run takes them
	}
	return join(err, done.err)
}

// servedInterrupt is how Serve's interrupt went: the cause it was given,
// whether the context's end was that cause, and what it failed with.
type servedInterrupt struct {
	cause     error
	byContext bool
	err       error
}

// guarded calls fn, the user's, and sets *err to what it returned, to a
// *PanicError for its panic, or to goexit if it called runtime.Goexit. It
// sets *err itself, in its deferred call, and does not return it: after a
// Goexit nothing returned would arrive, nor a panic that followed the
// Goexit, which is recovered and then lets the Goexit go on.
func guarded(err *error, goexit error, fn func() error) {
	completed := false
	defer func() {
		if v := recover(); v != nil {
			if pe, ok := v.(*PanicError); ok {
				// Passed on by Serve, with the first panic's value and
				// stack: not wrapped again.
				*err = pe
				return
			}
			*err = &PanicError{Value: v, Stack: debug.Stack()}
		} else if !completed {
			*err = goexit
		}
	}()
	*err = fn()
	completed = true
}
