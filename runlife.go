package troupe

import (
	"log/slog"
	"os"
	"sync"
	"time"
)

// runLife is what an interrupt can learn, through the cause it is given, of
// the Run that called it. The Signals actor needs it: its second-signal
// watch must last until the outermost Run returns, not only until its own
// interrupt, and must report through the group's logger and hook. A nested
// group learns its deadline from it.
type runLife struct {
	logger         *slog.Logger
	onSecondSignal func(sig os.Signal, status int)
	parent         *runLife // the Run of the group this one is nested in

	ended moment // the Run has returned, or is about to

	mu         sync.Mutex
	deadline   time.Time // when Run stops waiting, once its shutdown has begun; zero: never
	onDeadline []func()  // nested Runs, told when the deadline moves
	stopNotice *stopNotice
}

// notice gives the outermost Run's stop notice, made on first use: the
// server adapters of every nested group hear of the one stop delay.
func (l *runLife) notice() *stopNotice {
	for l.parent != nil {
		l = l.parent
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopNotice == nil {
		l.stopNotice = &stopNotice{}
	}
	return l.stopNotice
}

// existingNotice gives the notice if any adapter took it.
func (l *runLife) existingNotice() *stopNotice {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopNotice
}

// whenEnded calls f as the outermost Run returns, or at once if it already
// has.
func (l *runLife) whenEnded(f func()) {
	for l.parent != nil {
		l = l.parent
	}
	l.ended.then(f)
}

// end is called by Run just before it returns; what it calls has finished
// by then.
func (l *runLife) end() { l.ended.pass() }

// reporting gives the logger and the second-signal hook of the nearest
// group, outward, that has them.
func (l *runLife) reporting() (logger *slog.Logger, onSecondSignal func(os.Signal, int)) {
	for ; l != nil; l = l.parent {
		if logger == nil {
			logger = l.logger
		}
		if onSecondSignal == nil {
			onSecondSignal = l.onSecondSignal
		}
	}
	return logger, onSecondSignal
}

// setDeadline records when this Run stops waiting, and tells the nested
// Runs, whose shutdown may have begun before this one's.
func (l *runLife) setDeadline(t time.Time) {
	l.mu.Lock()
	l.deadline = t
	tell := l.onDeadline
	l.mu.Unlock()
	for _, f := range tell {
		f()
	}
}

// watchDeadline calls f whenever the deadline of this Run moves.
func (l *runLife) watchDeadline(f func()) {
	l.mu.Lock()
	l.onDeadline = append(l.onDeadline, f)
	l.mu.Unlock()
}

// shutdownDeadline is when this Run, or one it is nested in, stops
// waiting; zero when none has a deadline yet.
func (l *runLife) shutdownDeadline() time.Time {
	var earliest time.Time
	for ; l != nil; l = l.parent {
		l.mu.Lock()
		d := l.deadline
		l.mu.Unlock()
		if !d.IsZero() && (earliest.IsZero() || d.Before(earliest)) {
			earliest = d
		}
	}
	return earliest
}

// runJoiner is an error that wants to know the Run that hears of it: the
// SignalError of a Signals actor, whose watch must report through the
// group even before the actor's own interrupt comes.
type runJoiner interface{ joinRun(*runLife) }

// runCause is a cause that carries the Run that gave it: an *ActorError
// from a Run, or an outsideCause.
type runCause interface{ runOf() *runLife }

func (e *ActorError) runOf() *runLife { return e.run }

// outsideCause is the cause of a shutdown asked from outside the group: by
// the group it is nested in. It reads as the outer cause, which errors.Is
// and errors.As reach, and carries this Run.
type outsideCause struct {
	err error
	run *runLife
}

func (c *outsideCause) Error() string   { return c.err.Error() }
func (c *outsideCause) Unwrap() error   { return c.err }
func (c *outsideCause) runOf() *runLife { return c.run }
