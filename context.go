package troupe

import (
	"context"
	"errors"
	"sync"
)

// Context returns an actor that returns when ctx is done, so that a parent
// context can stop a group. Interrupted, it returns nil. It panics if ctx
// is nil.
//
// A parent that was cancelled, with no cause or with one that matches
// context.Canceled (as [os/signal.NotifyContext] gives since Go 1.26),
// asked the group to stop: execute's error then matches
// [ErrStopRequested] as well as context.Canceled, and [ExitCode] maps it
// to 0, as it does a signal. Any other cause, such as
// context.DeadlineExceeded or an error of the caller's, is returned as it
// is, a failure.
func Context(ctx context.Context) (execute func() error, interrupt func(error)) {
	if ctx == nil {
		panic("troupe: Context: nil context")
	}
	stop := make(chan struct{})
	var once sync.Once
	execute = func() error {
		select {
		case <-ctx.Done():
			cause := context.Cause(ctx)
			if errors.Is(cause, context.Canceled) {
				return &parentStopped{cause}
			}
			return cause
		case <-stop:
			return nil
		}
	}
	return execute, func(error) { once.Do(func() { close(stop) }) }
}

// parentStopped is a parent context's cancellation: a request to stop.
type parentStopped struct{ cause error }

func (e *parentStopped) Error() string { return "troupe: parent context cancelled: " + e.cause.Error() }

func (e *parentStopped) Unwrap() error { return e.cause }

func (e *parentStopped) Is(target error) bool { return target == ErrStopRequested }
