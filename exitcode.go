package troupe

import (
	"errors"

	"github.com/oklog/run"
)

// ExitCode maps the result of [Group.Run] to a process exit status: 0 for
// nil, or for an error made only of requested stops (a signal, a parent
// context's cancellation, [Group.Stop]: errors that match
// [ErrStopRequested]) and of [NotStartedError]s, and 1 for anything else. It walks the whole error tree, through wrapping and
// joining, so a signal stop joined with another actor's failure or with a
// [TimeoutError] is 1, however it was wrapped on its way to main.
//
//	os.Exit(troupe.ExitCode(g.Run()))
func ExitCode(err error) int {
	if err == nil || onlyRequestedStops(err) {
		return 0
	}
	return 1
}

// onlyRequestedStops reports whether every leaf of err's tree is a
// requested stop. An error that says of itself that it is one (a
// SignalError, a stopped parent context) counts as a leaf, whatever it
// wraps.
func onlyRequestedStops(err error) bool {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs := joined.Unwrap()
		for _, e := range errs {
			if e != nil && !onlyRequestedStops(e) {
				return false
			}
		}
		return len(errs) > 0
	}
	if _, ok := err.(*NotStartedError); ok || isStopRequest(err) {
		return true // actors that never started say why in the cause, which the rest of the tree has
	}
	if inner := errors.Unwrap(err); inner != nil {
		return onlyRequestedStops(inner)
	}
	return false
}

// isStopRequest looks at err alone, not at what it wraps. run.ErrSignal
// counts, for errors that code migrating from oklog/run makes itself.
func isStopRequest(err error) bool {
	for _, target := range []error{ErrStopRequested, ErrSignal, run.ErrSignal} {
		if err == target {
			return true
		}
		if is, ok := err.(interface{ Is(error) bool }); ok && is.Is(target) {
			return true
		}
	}
	return false
}
