package troupe

import (
	"errors"
	"sync"
)

// serverStop is what a server adapter's execute and interrupt share. They
// may come in either order, and at once: the interrupt may come before
// execute has begun (in a plain run.Group, or when Run refused the group),
// while it serves, or after it has returned. Exactly one stop runs, begun
// by the interrupt or by execute itself (Serve failed, or other code
// stopped the server), and execute always waits for it, so that nothing of
// the server outlives execute.
type serverStop struct {
	done chan struct{} // closed when the stop has finished
	err  error         // set before done is closed

	mu          sync.Mutex
	executed    bool // execute has been called
	began       bool // execute has begun
	early       bool // the interrupt came before execute began
	stopping    bool // a stop has begun
	interrupted bool
	cause       error         // the interrupt's
	hookDone    chan struct{} // closed once the BeforeStop hook has run; nil before it starts
	hookErr     error         // set before hookDone is closed
	hookWanted  func(*error)  // the stop delay began before execute: begin starts the hook
}

func newServerStop() serverStop { return serverStop{done: make(chan struct{})} }

// begin is execute's first step. False means that the interrupt came
// first: execute must return nil at once.
//
// A pair runs once: a second execute (the pair added twice, or to two
// groups) would serve the same listener again, and gets
// errExecutedTwice instead.
func (st *serverStop) begin() (bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.executed {
		return false, errExecutedTwice
	}
	st.executed = true
	st.began = !st.early
	if st.began && st.hookWanted != nil {
		st.startHookLocked(st.hookWanted)
	}
	return st.began, nil
}

var errExecutedTwice = errors.New("troupe: a server adapter's execute was called again: its pair runs once, added to one group once")

// interrupt records the interrupt. early reports that execute has not
// begun, and will not: the adapter releases what it holds. start reports
// that the stop must begin now, on another goroutine.
func (st *serverStop) interrupt(cause error) (early, start bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.began {
		early = !st.early
		st.early = true
		return early, false
	}
	if !st.interrupted {
		st.interrupted, st.cause = true, cause
	}
	start = !st.stopping
	st.stopping = true
	return false, start
}

// claim is execute's once it has served: true when no stop has begun, and
// execute must run it itself. It also reports whether the interrupt had
// come by then.
func (st *serverStop) claim() (mine, interrupted bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	mine = !st.stopping
	st.stopping = true
	return mine, st.interrupted
}

// causeOr gives the interrupt's cause, or fallback when other code
// stopped the server.
func (st *serverStop) causeOr(fallback error) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.cause == nil {
		return fallback
	}
	return st.cause
}

// hook runs the BeforeStop hook, if any, unless it has begun already,
// and waits for it.
func (st *serverStop) hook(run func(*error)) error {
	if run == nil {
		return nil
	}
	<-st.startHook(run)
	return st.hookErr
}

// hookEarly starts the BeforeStop hook as the group's stop delay begins:
// a stop that comes later waits for it, and so does execute. If execute
// has not begun, begin starts the hook, so that it does not run before
// the server serves, nor when execute never runs.
func (st *serverStop) hookEarly(run func(*error)) {
	if run == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.began {
		st.startHookLocked(run)
	} else {
		st.hookWanted = run
	}
}

func (st *serverStop) startHook(run func(*error)) <-chan struct{} {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.startHookLocked(run)
}

// startHookLocked starts the hook once; st.mu is held.
func (st *serverStop) startHookLocked(run func(*error)) <-chan struct{} {
	if st.hookDone == nil {
		done := make(chan struct{})
		st.hookDone = done
		go func() {
			defer close(done)
			run(&st.hookErr)
		}()
	}
	return st.hookDone
}

func (st *serverStop) finish(err error) {
	st.err = err
	close(st.done)
}

// wait waits for the stop, and for a BeforeStop hook begun early, so that
// nothing of the server outlives execute.
func (st *serverStop) wait() error {
	<-st.done
	st.mu.Lock()
	hookDone := st.hookDone
	st.mu.Unlock()
	if hookDone != nil {
		<-hookDone
	}
	return st.err
}
