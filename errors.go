package troupe

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrShutdownTimeout is matched by errors.Is when Run stopped waiting for
// actors that were still running, because [Group.ShutdownTimeout] or their
// own [Actor.Timeout] passed. The stragglers are listed by [TimeoutError].
var ErrShutdownTimeout = errors.New("troupe: shutdown deadline passed")

// ErrInvalid is matched by errors.Is when [Group.Run] refused to start
// because the group is misconfigured: a nil function, a duplicate or empty
// name, a negative timeout, or a stop order that names an unknown actor or
// forms a cycle. No execute was called.
var ErrInvalid = errors.New("troupe: invalid group")

// ErrAlreadyRun is returned by a second call to [Group.Run]. A Group runs
// once, because its actors' execute functions are not restartable in general.
var ErrAlreadyRun = errors.New("troupe: group already run")

// ErrReturned is the cause passed to interrupts, wrapped in an [ActorError],
// when the actor that began the shutdown returned nil. Interrupts and context
// actors therefore always see a non-nil cause that names the actor.
var ErrReturned = errors.New("troupe: actor returned")

// ErrStopRequested is matched by errors.Is when the group was asked to stop
// from outside rather than failing: by a signal ([SignalError] matches it),
// or by the cancellation of a parent context given to [Context]. [ExitCode]
// maps such a stop to 0.
var ErrStopRequested = errors.New("troupe: stop requested")

// ActorError is an error that happened in one actor. Every error that
// [Group.Run] returns for an actor is an ActorError, so errors.As gives the
// actor's name, and errors.Is and errors.As reach the actor's own error.
type ActorError struct {
	// Actor is the actor's name: the one given to [Actor.Name], or actor-N
	// for the Nth actor added without a name.
	Actor string
	// Err is what the actor returned, a [*PanicError], or the reason the
	// actor's configuration was refused.
	Err error

	// run is set on the cause that a Run passes to interrupts: an interrupt
	// that must outlive its own actor (the second-signal watch) learns from
	// it how long the shutdown lasts and where to report.
	run *runLife
}

// Error gives the actor's name and its error.
func (e *ActorError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("troupe: actor %q", e.Actor)
	}
	return fmt.Sprintf("troupe: actor %q: %s", e.Actor, strings.TrimPrefix(e.Err.Error(), "troupe: "))
}

// Unwrap returns the actor's own error.
func (e *ActorError) Unwrap() error { return e.Err }

// PanicError is an actor's panic turned into an error. It is wrapped in an
// [ActorError] that names the actor.
type PanicError struct {
	// Value is what was passed to panic.
	Value any
	// Stack is the panicking goroutine's stack, as [runtime/debug.Stack]
	// gives it.
	Stack []byte
}

// Error gives the panic value followed by the stack, because a panic that
// does not crash the process must not lose where it happened.
func (e *PanicError) Error() string {
	return fmt.Sprintf("troupe: panic: %v\n\n%s", e.Value, e.Stack)
}

// Unwrap returns the panic value when it is an error, so errors.Is and
// errors.As reach it.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// TimeoutError lists the actors still running when [Group.Run] stopped
// waiting for them, because [Group.ShutdownTimeout] or their own
// [Actor.Timeout] passed. It matches [ErrShutdownTimeout] under errors.Is.
type TimeoutError struct {
	// Stragglers are the names of the actors that had not returned, in the
	// order they were added.
	Stragglers []string
	// ShutdownTimeout is how long after the group's shutdown began its
	// deadline passed, when that is why Run stopped waiting: the group's
	// own ShutdownTimeout or, for a nested group, the enclosing group's
	// deadline if that came first. It is zero when Run stopped waiting
	// only because the stragglers' own [Actor.Timeout] had passed.
	ShutdownTimeout time.Duration
}

// Error says which deadline passed and lists the stragglers.
func (e *TimeoutError) Error() string {
	deadline := "actor timeout passed"
	if e.ShutdownTimeout > 0 {
		deadline = fmt.Sprintf("shutdown deadline of %v passed", e.ShutdownTimeout)
	}
	return fmt.Sprintf("troupe: %s; still running: %s", deadline, quoteAll(e.Stragglers))
}

// Is reports whether target is [ErrShutdownTimeout].
func (e *TimeoutError) Is(target error) bool { return target == ErrShutdownTimeout }

// configError is one reason Run refused to start; it matches ErrInvalid.
type configError struct {
	actor string // empty for group-wide settings
	msg   string
}

func (e *configError) Error() string {
	if e.actor == "" {
		return "troupe: " + e.msg
	}
	return fmt.Sprintf("troupe: actor %q: %s", e.actor, e.msg)
}

func (e *configError) Is(target error) bool { return target == ErrInvalid }

// errGoexit and errInterruptGoexit stand in for a function that called
// runtime.Goexit (t.FailNow in a test, for one): it neither returned nor
// panicked, and Run must still hear that it ended.
var (
	errGoexit          = errors.New("troupe: actor called runtime.Goexit")
	errInterruptGoexit = errors.New("troupe: interrupt called runtime.Goexit")
	errCheckGoexit     = errors.New("troupe: readiness check called runtime.Goexit")
	errCalledGoexit    = errors.New("called runtime.Goexit") // wrapped with what called it: a hook, a factory
)

func quoteAll(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", n)
	}
	return b.String()
}

// join is errors.Join, but gives a lone error as it is, so that it still
// compares equal to itself and is not wrapped for nothing.
func join(errs ...error) error {
	var only error
	n := 0
	for _, err := range errs {
		if err != nil {
			only = err
			n++
		}
	}
	if n <= 1 {
		return only
	}
	return errors.Join(errs...)
}
