package troupe

import (
	"context"
	"runtime/debug"
	"sync"
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
// called exactly once, and Serve returns only after it has returned.
//
// Serve returns nil when execute returned nil, or only echoed the
// interruption (the package documentation lists the echoes). A panic in
// execute or interrupt becomes a [*PanicError]. Serve panics if ctx,
// execute or interrupt is nil.
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
	var once sync.Once
	var interruptErr error
	callInterrupt := func(cause error) {
		once.Do(func() { interruptErr = recoverPanic(func() { interrupt(cause) }) })
	}
	stop := make(chan struct{})
	watched := make(chan error, 1) // the cause the interrupt was given, nil if ctx was not done
	go func() {
		select {
		case <-ctx.Done():
		case <-stop:
			if ctx.Err() == nil {
				watched <- nil
				return
			}
			// Done as execute returned: the context's end decides, not
			// select's random pick.
		}
		cause := context.Cause(ctx)
		callInterrupt(cause)
		watched <- cause
	}()
	finished := false
	defer func() {
		if finished {
			return
		}
		// execute called runtime.Goexit: the interrupt is still called,
		// and Serve ends only after it has returned.
		close(stop)
		if <-watched == nil {
			callInterrupt(errGoexit)
		}
	}()
	err := recovered(execute)
	finished = true
	close(stop)
	if cause := <-watched; cause != nil {
		if isEcho(err, true, cause) {
			err = nil
		}
	} else {
		callInterrupt(endedCause(err))
		if isEcho(err, false, nil) {
			err = nil // http.ErrServerClosed, as Run takes it
		}
	}
	return join(err, interruptErr)
}

// recovered calls fn, turning a panic into a *PanicError.
func recovered(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn()
}

// recoveredInto is recovered for a caller that sets *err to a sentinel
// for runtime.Goexit first: it sets *err itself, in its deferred call, and
// does not return it. A fn that calls runtime.Goexit and then panics in a
// deferred function goes on with the Goexit once the panic is recovered,
// so an assignment of recovered's result would never run, and the panic
// would be lost behind the sentinel.
func recoveredInto(err *error, fn func() error) {
	defer func() {
		if v := recover(); v != nil {
			*err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	*err = fn()
}

// recoverPanic calls fn, giving its panic as a *PanicError.
func recoverPanic(fn func()) error { return recovered(func() error { fn(); return nil }) }
