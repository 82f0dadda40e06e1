package troupe

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

// runner is the state of one Run. errgroup does not fit here: it reports
// only errors, not the first return, and its Wait cannot stop waiting at a
// deadline, so Run keeps its own few lines around one event channel.
type runner struct {
	log     logger
	timeout time.Duration
	actors  []*Actor
	stages  [][]*Actor
	pending []int      // per stage, the actors not yet done
	events  chan event // buffered so that no sender ever blocks
	done    chan struct{}
	crews   crews

	// The usual group has one stage; these hold it without allocating.
	oneStage   [1][]*Actor
	onePending [1]int

	cause   *ActorError
	failed  []error
	running int

	mu         sync.Mutex // guards lateErrors, written by interrupt goroutines
	lateErrors []error
	shutdownAt time.Time
}

type eventKind uint8

const (
	returned               eventKind = iota // execute returned err
	returnedAfterInterrupt                  // execute returned err; its interrupt had ended
	interruptEnded                          // the interrupt returned after execute did
	timeoutExpired                          // the actor's own Timeout passed
)

type event struct {
	actor *Actor
	kind  eventKind
	err   error
}

func newRunner(g *Group, actors []*Actor, stages [][]*Actor) *runner {
	size := 2 * len(actors) // at most a return and an interrupt's end each
	for _, a := range actors {
		if a.timeout > 0 {
			size++
		}
	}
	r := &runner{
		log:     logger{g.Logger},
		timeout: g.ShutdownTimeout,
		actors:  actors,
		stages:  stages,
		events:  make(chan event, size),
		done:    make(chan struct{}),
	}
	if stages == nil {
		r.oneStage[0] = actors
		r.stages = r.oneStage[:]
		r.pending = r.onePending[:]
	} else {
		r.pending = make([]int, len(stages))
	}
	for i, s := range r.stages {
		r.pending[i] = len(s)
	}
	return r
}

func (r *runner) run() error {
	defer close(r.done)
	logging := r.log.l != nil
	for _, a := range r.actors {
		if logging {
			a.startedAt = time.Now()
			r.log.started(a)
		}
		go r.execute(a)
	}
	r.running = len(r.actors)
	r.awaitCause()
	return r.shutdown()
}

func (r *runner) execute(a *Actor) {
	err := errGoexit
	defer func() {
		// Returns are always reported, since one may begin the shutdown;
		// the report also carries the end of an interrupt that finished first.
		kind := returned
		if a.finished.Add(1) == 2 {
			kind = returnedAfterInterrupt
		}
		r.events <- event{a, kind, err}
	}()
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	err = a.execute()
}

// awaitCause waits for the return that begins the shutdown.
func (r *runner) awaitCause() {
	for r.cause == nil {
		ev := <-r.events // only returns can come before the shutdown
		failure := r.record(ev)
		switch {
		case failure != nil:
			failure.runDone = r.done
			r.cause = failure
		case !ev.actor.oneShot || r.running == 0:
			r.cause = &ActorError{Actor: ev.actor.displayName(), Err: ErrReturned, runDone: r.done}
		}
	}
	r.shutdownAt = time.Now()
	r.log.shutdownBegun(r.cause)
}

// shutdown interrupts stage after stage until every actor is done or the
// shutdown deadline passes.
func (r *runner) shutdown() error {
	var deadline <-chan time.Time
	if r.timeout > 0 {
		t := time.NewTimer(r.timeout)
		defer t.Stop()
		deadline = t.C
	}
	defer r.crews.stop()
	stage := 0
	r.interruptAll(r.stages[stage])
	for {
		for stage < len(r.stages) && r.pending[stage] == 0 {
			r.log.stageDone(stage, len(r.stages), time.Since(r.shutdownAt))
			stage++
			if stage < len(r.stages) {
				r.interruptAll(r.stages[stage])
			}
		}
		if stage == len(r.stages) {
			break
		}
		// Events come in bursts; taking a queued one alone is much cheaper
		// than a select that also locks the timers.
		select {
		case ev := <-r.events:
			r.record(ev)
			continue
		default:
		}
		select {
		case ev := <-r.events:
			r.record(ev)
		case <-r.crews.check():
			r.crews.grow(r)
		case <-deadline:
			r.drainEvents()
			stragglers := r.stragglers()
			// Every interrupt is called once even now, so that no actor is
			// left running unasked; Run does not wait for these.
			r.crews.abandon(r)
			for _, a := range r.actors {
				if !a.interrupted {
					a.interrupted = true
					go r.callInterrupt(a)
				}
			}
			return r.finish(stragglers)
		}
	}
	r.drainEvents()
	return r.finish(r.stragglers())
}

// interruptAll hands a stage's interrupts to a crew of goroutines that
// grows while interrupts wait, because one interrupt that blocks (a
// Shutdown waiting for requests) must not delay the others: oklog/run calls
// them in turn, and N slow ones take N times as long.
func (r *runner) interruptAll(actors []*Actor) {
	for _, a := range actors {
		a.interrupted = true
		if a.timeout > 0 {
			a.timer = time.AfterFunc(a.timeout, func() { r.events <- event{a, timeoutExpired, nil} })
		}
	}
	r.crews.start(actors, r)
}

func (r *runner) callInterrupt(a *Actor) {
	defer func() {
		// An interrupt that ends before its execute returns is reported with
		// that return: one event instead of two, in the usual case.
		if a.finished.Add(1) == 2 {
			r.events <- event{a, interruptEnded, nil}
		}
	}()
	defer func() {
		if v := recover(); v != nil {
			err := &ActorError{Actor: a.displayName(), Err: &PanicError{Value: v, Stack: debug.Stack()}}
			r.log.interruptPanicked(err)
			r.mu.Lock()
			r.lateErrors = append(r.lateErrors, err)
			r.mu.Unlock()
		}
	}()
	a.calling.Store(true)
	a.interrupt(r.cause)
}

// record applies one event, and gives the actor's failure if it returned one.
func (r *runner) record(ev event) *ActorError {
	a := ev.actor
	switch ev.kind {
	case interruptEnded:
		a.interruptDone = true
		r.settle(a)
		return nil
	case timeoutExpired:
		if !a.done {
			r.log.actorDeadline(a)
			r.markDone(a)
		}
		return nil
	}
	a.returned = true
	// Only ever set here: the interrupt's own event can arrive before this
	// one, when it ends between execute's count and execute's send.
	if ev.kind == returnedAfterInterrupt {
		a.interruptDone = true
	}
	r.running--
	r.settle(a)
	failure := r.isFailure(a, ev.err)
	r.log.returned(a, ev.err, failure)
	if !failure {
		return nil
	}
	err := &ActorError{Actor: a.displayName(), Err: ev.err}
	r.failed = append(r.failed, err)
	return err
}

// isFailure filters out the echoes of an interruption, which say only that
// the actor did what it was asked.
func (r *runner) isFailure(a *Actor, err error) bool {
	switch {
	case err == nil, errors.Is(err, http.ErrServerClosed):
		return false
	case a.interrupted && (errors.Is(err, context.Canceled) || errors.Is(err, r.cause)):
		return false
	}
	return true
}

// settle marks an actor done once both its execute and its interrupt have
// returned: Run waits for interrupts too, so that none is left running,
// still closing something, after Run has returned.
func (r *runner) settle(a *Actor) {
	if a.returned && a.interruptDone {
		if a.timer != nil {
			a.timer.Stop()
		}
		r.markDone(a)
	}
}

func (r *runner) markDone(a *Actor) {
	if !a.done {
		a.done = true
		r.pending[a.stage]--
	}
}

// drainEvents applies events that raced with the end of the shutdown, so
// that an actor that did return is not named a straggler.
func (r *runner) drainEvents() {
	for {
		select {
		case ev := <-r.events:
			r.record(ev)
		default:
			return
		}
	}
}

// stragglers names the actors whose execute, or whose interrupt, is still
// running. An interrupt handed to a crew but not yet begun is not running.
func (r *runner) stragglers() []string {
	var names []string
	for _, a := range r.actors {
		if !a.returned || (a.calling.Load() && !a.interruptDone) {
			names = append(names, a.displayName())
		}
	}
	return names
}

func (r *runner) finish(stragglers []string) error {
	r.log.stopped(time.Since(r.shutdownAt), stragglers)

	var errs []error
	r.mu.Lock()
	errs = append(append(errs, r.failed...), r.lateErrors...)
	r.mu.Unlock()
	if stragglers != nil {
		errs = append(errs, &TimeoutError{Stragglers: stragglers})
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}
