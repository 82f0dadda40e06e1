package troupe

import (
	"context"
	"errors"
	"io"
	"sync"
)

// Func turns a function that runs until its context is cancelled into an
// actor. The interrupt cancels the context with the shutdown's cause, which
// fn can read with [context.Cause]. When fn returns context.Canceled, or the
// cause, after that cancellation, execute returns nil: fn did what it was
// asked. The pair works in a plain run.Group too.
func Func(fn func(ctx context.Context) error) (execute func() error, interrupt func(error)) {
	ctx, cancel := context.WithCancelCause(context.Background())
	execute = func() error {
		err := fn(ctx)
		if err != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.Cause(ctx))) {
			return nil
		}
		return err
	}
	return execute, cancel
}

// Closer returns an actor that waits until it is interrupted and then closes
// c, returning Close's error. Give it [Actor.StopAfter] to close a resource
// after the actors that use it have stopped:
//
//	g.Add(troupe.Closer(db)).Name("db").StopAfter("http")
func Closer(c io.Closer) (execute func() error, interrupt func(error)) {
	if c == nil {
		return nil, nil
	}
	return CloseFunc(c.Close)
}

// CloseFunc is [Closer] for a function: it waits until it is interrupted,
// then calls fn and returns its error.
func CloseFunc(fn func() error) (execute func() error, interrupt func(error)) {
	if fn == nil {
		return nil, nil
	}
	stop := make(chan struct{})
	var once sync.Once
	execute = func() error {
		<-stop
		return fn()
	}
	return execute, func(error) { once.Do(func() { close(stop) }) }
}
