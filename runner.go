package troupe

import (
	"context"
	"errors"
	"net"
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
	life    *runLife
	timeout time.Duration
	actors  []*Actor
	stages  [][]*Actor
	pending []int      // per stage, the actors not yet done
	events  chan event // buffered so that no sender ever blocks

	// The usual group has one stage; these hold it without allocating.
	oneStage   [1][]*Actor
	onePending [1]int

	cause   *ActorError
	failed  []error
	running int

	mu         sync.Mutex // guards lateErrors, over and the actors' timers
	lateErrors []error    // failures of interrupts, which run on their own goroutines
	over       bool       // Run has stopped waiting: no more actor timers
	shutdownAt time.Time
}

type eventKind uint8

const (
	returned               eventKind = iota // execute returned err
	returnedAfterInterrupt                  // execute returned err; its interrupt had ended
	interruptEnded                          // the interrupt returned after execute did
	timeoutExpired                          // the actor's own Timeout passed
)

// event is what an actor's goroutines tell Run. Each actor sends at most
// one of each kind but returnedAfterInterrupt, which stands for two, so a
// buffer of two per actor, and one more per Timeout, never blocks a sender.
type event struct {
	actor *Actor
	kind  eventKind
	err   error
}

func newRunner(g *Group, actors []*Actor, stages [][]*Actor) *runner {
	size := 2 * len(actors)
	for _, a := range actors {
		if a.timeout > 0 {
			size++
		}
	}
	r := &runner{
		log:     logger{g.Logger},
		life:    &runLife{logger: g.Logger, onSecondSignal: g.OnSecondSignal},
		timeout: g.ShutdownTimeout,
		actors:  actors,
		stages:  stages,
		events:  make(chan event, size),
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
	err := r.shutdown()
	r.life.end()
	return err
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
			failure.run = r.life
			r.cause = failure
		case !ev.actor.oneShot || r.running == 0:
			r.cause = &ActorError{Actor: ev.actor.displayName(), Err: ErrReturned, run: r.life}
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
		// than a select that also locks the timer.
		select {
		case ev := <-r.events:
			r.record(ev)
			continue
		default:
		}
		select {
		case ev := <-r.events:
			r.record(ev)
		case <-deadline:
			r.drainEvents()
			stragglers := r.stragglers()
			// Every interrupt is called once even now, so that no actor is
			// left running unasked; Run does not wait for these.
			for _, s := range r.stages[stage+1:] {
				r.interruptAll(s)
			}
			return r.finish(stragglers, r.timeout)
		}
	}
	r.drainEvents()
	return r.finish(r.stragglers(), 0)
}

// interruptAll calls a stage's interrupts, each on a goroutine of its own,
// because one interrupt that blocks (a Shutdown waiting for requests) must
// not delay the others: oklog/run calls them in turn, and N slow ones take
// N times as long. A goroutine each, rather than a pool, also means that
// every interrupt has begun, or is about to, the moment its stage comes:
// none waits for a free worker while deadlines run.
func (r *runner) interruptAll(actors []*Actor) {
	for _, a := range actors {
		a.interrupted = true
		go r.interrupt(a)
	}
}

func (r *runner) interrupt(a *Actor) {
	defer func() {
		// An interrupt that ends before its execute returns is reported with
		// that return: one event instead of two, in the usual case.
		if a.finished.Add(1) == 2 {
			r.events <- event{a, interruptEnded, nil}
		}
	}()
	// Begun before its Timeout starts: an actor whose Timeout has passed
	// must be named if its interrupt is still running when Run returns.
	a.calling.Store(true)
	r.startTimer(a)
	callInterrupt(a, r.cause, func(err *ActorError) {
		r.log.interruptFailed(err)
		r.mu.Lock()
		r.lateErrors = append(r.lateErrors, err)
		r.mu.Unlock()
	})
}

// callInterrupt calls a's interrupt with cause, and gives report what went
// wrong if it panicked or called runtime.Goexit, either of which would
// otherwise end its goroutine without a word.
func callInterrupt(a *Actor, cause error, report func(*ActorError)) {
	completed := false
	defer func() {
		if v := recover(); v != nil {
			report(&ActorError{Actor: a.displayName(), Err: &PanicError{Value: v, Stack: debug.Stack()}})
		} else if !completed {
			report(&ActorError{Actor: a.displayName(), Err: errInterruptGoexit})
		}
	}()
	a.interrupt(cause)
	completed = true
}

// startTimer starts the actor's own Timeout as its interrupt is called, so
// that it bounds the interrupt and not a wait before it. Once Run has
// stopped waiting, a timer would only outlive it.
func (r *runner) startTimer(a *Actor) {
	if a.timeout <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.over {
		a.timer = time.AfterFunc(a.timeout, func() { r.events <- event{a, timeoutExpired, nil} })
	}
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
	var joiner runJoiner
	if ev.err != nil && errors.As(ev.err, &joiner) {
		joiner.joinRun(r.life)
	}
	failure := !r.isEcho(a, ev.err)
	r.log.returned(a, ev.err, failure)
	if !failure {
		return nil
	}
	err := &ActorError{Actor: a.displayName(), Err: ev.err}
	r.failed = append(r.failed, err)
	return err
}

// isEcho reports whether err says only that the actor did what it was
// asked, and so is not a failure. This is the one list of echoes; doc.go
// gives it to users.
func (r *runner) isEcho(a *Actor, err error) bool {
	switch {
	case err == nil, errors.Is(err, http.ErrServerClosed):
		return true
	case !a.interrupted:
		// Before its interrupt, even net.ErrClosed is news: someone else
		// closed what the actor was using.
		return false
	}
	// A bare context.Canceled is what the context recipe of oklog/run
	// returns (interrupt: cancel; execute: return ctx.Err()). A wrapped one
	// is not: the group cancelled no context of an Add actor's, and "flush:
	// context canceled" means a flush did not happen. Go actors' contexts
	// are the group's, and Func filters their echoes itself.
	return err == context.Canceled || errors.Is(err, r.cause) || errors.Is(err, net.ErrClosed)
}

// settle marks an actor done once both its execute and its interrupt have
// returned: Run waits for interrupts too, so that none is left running,
// still closing something, after Run has returned.
func (r *runner) settle(a *Actor) {
	if !a.returned || !a.interruptDone {
		return
	}
	if a.timeout > 0 {
		r.mu.Lock()
		if a.timer != nil {
			a.timer.Stop()
		}
		r.mu.Unlock()
	}
	r.markDone(a)
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
// running. An interrupt not yet begun is not running.
func (r *runner) stragglers() []string {
	var names []string
	for _, a := range r.actors {
		if !a.returned || (a.calling.Load() && !a.interruptDone) {
			names = append(names, a.displayName())
		}
	}
	return names
}

// finish builds Run's error. shutdownTimeout is the group's deadline if it
// is what passed.
func (r *runner) finish(stragglers []string, shutdownTimeout time.Duration) error {
	r.log.stopped(time.Since(r.shutdownAt), stragglers)

	r.mu.Lock()
	r.over = true
	for _, a := range r.actors {
		if a.timer != nil {
			a.timer.Stop()
		}
	}
	errs := append(r.failed, r.lateErrors...)
	r.mu.Unlock()
	if stragglers != nil {
		errs = append(errs, &TimeoutError{Stragglers: stragglers, ShutdownTimeout: shutdownTimeout})
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}
