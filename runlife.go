package troupe

import (
	"log/slog"
	"os"
	"sync"
)

// runLife is what an interrupt can learn, through the cause it is given, of
// the Run that called it. The Signals actor needs it: its second-signal
// watch must last until Run returns, not only until its own interrupt, and
// must report through the group's logger and hook.
type runLife struct {
	logger         *slog.Logger
	onSecondSignal func(sig os.Signal, status int)

	mu    sync.Mutex
	ended bool
	atEnd []func()
}

// whenEnded calls f as Run returns, or at once if it already has.
func (l *runLife) whenEnded(f func()) {
	l.mu.Lock()
	if !l.ended {
		l.atEnd = append(l.atEnd, f)
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	f()
}

// end is called by Run just before it returns; what it calls has finished
// by then.
func (l *runLife) end() {
	l.mu.Lock()
	l.ended = true
	atEnd := l.atEnd
	l.atEnd = nil
	l.mu.Unlock()
	for _, f := range atEnd {
		f()
	}
}

// runJoiner is an error that wants to know the Run that hears of it: the
// SignalError of a Signals actor, whose watch must report through the
// group even before the actor's own interrupt comes.
type runJoiner interface{ joinRun(*runLife) }
