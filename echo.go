package troupe

import (
	"context"
	"errors"
	"net"
	"net/http"
)

// isEcho reports whether err, returned by an actor or a pair, says only
// that it did what it was asked, and so is not a failure. interrupted says
// whether its interrupt had been called with cause. This is the one list of
// echoes; doc.go gives it to users.
func isEcho(err error, interrupted bool, cause error) bool {
	switch {
	case err == nil, errors.Is(err, http.ErrServerClosed):
		return true
	case !interrupted:
		// Before its interrupt, even net.ErrClosed is news: someone else
		// closed what the actor was using.
		return false
	}
	// A bare context.Canceled is what the context recipe of oklog/run
	// returns (interrupt: cancel; execute: return ctx.Err()). A wrapped one
	// is not: the group cancelled no context of an Add actor's, and "flush:
	// context canceled" means a flush did not happen. Go actors' contexts
	// are the group's, and Func filters their echoes itself. A cause that
	// is itself context.Canceled (a plain cancel, for Serve) must not make
	// every wrapped one an echo.
	return err == context.Canceled || errors.Is(err, net.ErrClosed) ||
		(cause != context.Canceled && errors.Is(err, cause))
}
