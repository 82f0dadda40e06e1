package troupe

import (
	"context"
	"errors"
	"io"
	"reflect"
	"sync"
)

// Every adapter in this package reports bad arguments by panicking when it
// is called, as time.NewTicker does with a non-positive interval: its pair
// must work in a plain run.Group too, which has no way to report them, and
// a panic names the argument before anything has started. The Group's own
// methods instead report through Run, with ErrInvalid.

// Func turns a function that runs until its context is cancelled into an
// actor. The interrupt cancels the context with the shutdown's cause, which
// fn can read with [context.Cause]. When fn returns an error that matches
// context.Canceled, or the cause, after that cancellation, execute returns
// nil: fn did what it was asked. The pair works in a plain run.Group too.
// Func panics if fn is nil.
func Func(fn func(ctx context.Context) error) (execute func() error, interrupt func(error)) {
	if fn == nil {
		panic("troupe: Func: nil function")
	}
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
//
// Closer panics if c is nil.
func Closer(c io.Closer) (execute func() error, interrupt func(error)) {
	if isNil(c) {
		panic("troupe: Closer: nil io.Closer")
	}
	return closeFunc(c.Close)
}

// CloseFunc is [Closer] for a function: it waits until it is interrupted,
// then calls fn and returns its error. It panics if fn is nil.
func CloseFunc(fn func() error) (execute func() error, interrupt func(error)) {
	if fn == nil {
		panic("troupe: CloseFunc: nil function")
	}
	return closeFunc(fn)
}

func closeFunc(fn func() error) (execute func() error, interrupt func(error)) {
	stop := make(chan struct{})
	var once sync.Once
	execute = func() error {
		<-stop
		return fn()
	}
	return execute, func(error) { once.Do(func() { close(stop) }) }
}

// isNil reports whether v is nil, or an interface holding a nil pointer,
// map, slice, channel or function: a (*grpc.Server)(nil) is not == nil.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
