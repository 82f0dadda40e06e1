package troupe

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// runner is the state of one Run. errgroup does not fit here: it reports
// only errors, not the first return, and its Wait cannot stop waiting at a
// deadline, so Run keeps its own few lines around one event channel.
type runner struct {
	log     logger
	life    *runLife
	timeout time.Duration
	actors  *actorList
	stages  []stage
	// pending counts, per stage, the actors not yet done. The runner
	// counts down for the events it applies; an actor that ends cleanly
	// during the shutdown counts down itself (see endedClean).
	pending []atomic.Int64
	events  inbox

	// The usual group has one stage; these hold it without allocating, as
	// the fields after them hold the Run's life, the cause of a clean
	// return and the first stage's interrupter.
	oneStage   [1]stage
	onePending [1]atomic.Int64
	ownLife    runLife
	ownCause   ActorError
	firstStage interrupter // the first stage's, or the only one's

	startedAt []time.Duration // since log.since, by actor index, when logging

	// The shutdown's claim: see claim.go.
	claims         bool        // set by newRunner: the actors may claim it
	claimsOpen     atomic.Bool // every actor has started: a return may claim it now
	claim          atomic.Pointer[claim]
	runClaim       claim // the runner's own
	claimedByActor bool  // the claim began the shutdown, and its interrupts

	timed bool // some actor has a Timeout of its own, and so may have a timer

	// interruptedStages counts the stages whose actors count as
	// interrupted: their interrupts have been called, or a claim began
	// the shutdown. Stages are interrupted in order.
	interruptedStages int
	// stoppingStages counts the stages whose interrupts have begun, for
	// health, which may read it from any goroutine (healthStatus).
	stoppingStages atomic.Int32

	cause      error  // passed to every interrupt: an *ActorError, or an outsideCause
	causeActor string // the actor whose return began the shutdown; empty when asked from outside
	failed     []error
	running    int

	deadline   *time.Timer // the shutdown's deadline, once there is one
	deadlineAt time.Time
	moved      atomic.Bool // a deadlineMoved event is waiting

	mu         sync.Mutex // guards lateErrors, over and the actors' timers
	lateErrors []error    // failures of interrupts, which run on their own goroutines
	over       bool       // Run has stopped waiting: no more actor timers
	shutdownAt time.Time

	// The lifecycle: readiness, start order and the stop delay.
	status       *groupStatus
	order        *startOrder // nil when no actor starts after another
	started      bool        // startReady has started what waits for nothing
	ready        bool        // the group has been ready
	checks       int         // ReadyWhen checks running
	lastOneShot  *Actor      // the last one-shot to return cleanly
	notReady     int         // actors not ready, started or not
	startTimeout time.Duration
	startClock   *time.Timer
	checkCtx     context.Context // for ReadyWhen checks, made with the first
	cancelChecks context.CancelCauseFunc
	notStarted   []string // actors that never started
	stopDelay    time.Duration
	outside      bool        // the shutdown was asked from outside: by the enclosing group
	stopCalled   bool        // by Group.Stop
	announce     func()      // tells the enclosing group that this one is ready
	nestStopping func(error) // tells the enclosing group that this one's shutdown began
}

type eventKind uint8

const (
	returned               eventKind = iota // execute returned err
	returnedAfterInterrupt                  // execute returned err; its interrupt had ended
	interruptEnded                          // the interrupt returned after execute did
	timeoutExpired                          // the actor's own Timeout passed
	stopAsked                               // the enclosing group asks this one to stop, with err as the cause
	deadlineMoved                           // an enclosing group's deadline came earlier
	becameReady                             // an adapter or a nested group is ready
	checkEnded                              // a ReadyWhen check returned err
	startExpired                            // StartTimeout passed
	stageEmptied                            // endedClean counted a stage's last actor down
	shutdownClaimed                         // an actor's return began the shutdown: see claim.go
)

// event is what an actor's goroutines tell Run, through the inbox. Each
// actor sends at most one of each kind but returnedAfterInterrupt, which
// stands for two; the group is asked to stop at most once; and at most one
// deadlineMoved is waiting at any time.
type event struct {
	actor *Actor
	kind  eventKind
	err   error
}

// nesting is what a group run as an actor of another knows of it: the
// enclosing Run, the prefix that composes actor names in logs, and the
// logger to use when the group has none of its own.
type nesting struct {
	outermost bool // Run was called, not an enclosing group
	parent    *runLife
	prefix    string
	logger    *slog.Logger
	ready     func()            // tells the enclosing group that this one is ready
	stopping  func(cause error) // tells the enclosing group that this one's shutdown began
}

// newRunner readies the group's runner for its Run. The runner lives in
// the Group, which runs once, so that a Run allocates no state of its own.
func newRunner(g *Group, actors *actorList, sched schedule, in nesting) *runner {
	logTo := g.Logger
	if logTo == nil {
		logTo = in.logger
	}
	// Field by field: the runner is still zero, as a Group runs once, and
	// assigning a whole runner would copy every field of it through the
	// write barrier.
	r := &g.runState
	r.log = logger{l: logTo, prefix: in.prefix}
	r.timeout = g.ShutdownTimeout
	r.actors = actors
	r.status = &g.status
	r.order = newStartOrder(sched.startsAfter)
	r.startTimeout = g.StartTimeout
	r.stopDelay = g.StopDelay
	r.announce = in.ready
	r.nestStopping = in.stopping
	r.ownLife.logger, r.ownLife.onSecondSignal, r.ownLife.parent = g.Logger, g.OnSecondSignal, in.parent
	r.life = &r.ownLife
	if logTo != nil {
		r.log.since = time.Now() // the actors' durations count from here
		r.startedAt = make([]time.Duration, actors.len())
	}
	r.events.init()
	mayClaim := true // every actor may: see claimsAllowed
	for a := range actors.all() {
		readyBy := r.howReady(a)
		sp := a.settings()
		quiet := logTo == nil && sp.timeout == 0 && readyBy != readyByCheck
		a.prepare(readyBy, quiet)
		mayClaim = mayClaim && actorMayClaim(sp, readyBy, quiet)
		r.timed = r.timed || sp.timeout > 0
	}
	if sched.stages == nil {
		r.oneStage[0] = stage{every: actors}
		r.stages = r.oneStage[:]
		r.pending = r.onePending[:]
	} else {
		r.stages = make([]stage, len(sched.stages))
		r.pending = make([]atomic.Int64, len(sched.stages))
		for i, actors := range sched.stages {
			r.stages[i] = stage{some: actors}
			if i == 0 {
				continue
			}
			for _, a := range actors {
				// Only an actor with a stop order is past stage 0, and
				// it has settings of its own: a StopAfter, or the name
				// another's StartAfter gave. own makes none here.
				a.own().stage = i
			}
		}
	}
	for i, s := range r.stages {
		r.pending[i].Store(int64(s.len()))
	}
	r.claims = mayClaim && r.claimsAllowed(in)
	if in.parent != nil {
		in.parent.watchDeadline(func() {
			if r.moved.CompareAndSwap(false, true) {
				r.events.send(event{kind: deadlineMoved})
			}
		})
	}
	return r
}

func (r *runner) run() error {
	r.startReady()
	if r.claims {
		r.claimsOpen.Store(true)
	}
	r.awaitCause()
	err := r.shutdown()
	r.status.enter(Stopped)
	r.life.end()
	return err
}

// run calls a's execute for the Run of its group.
func (a *Actor) run() { a.group().runState.execute(a) }

func (r *runner) execute(a *Actor) {
	var err error // set by guarded, also on a Goexit
	defer func() {
		if r.claims && r.claimShutdown(a, err) {
			return // the claim reports the return
		}
		// Returns are reported, since one may begin the shutdown; the
		// report also carries the end of an interrupt that finished first.
		// The usual return, nil once interrupted, has nothing to report.
		switch {
		case a.countEnd() != 2:
			r.events.send(event{a, returned, err})
		case err == nil && a.has(flagEndsQuietly):
			r.endedClean(a)
		default:
			r.events.send(event{a, returnedAfterInterrupt, err})
		}
	}()
	guarded(&err, errGoexit, a.execute)
}

// endedClean marks a done without telling the runner of it, when the
// second of its two ends, execute's and interrupt's, needs nothing of the
// runner but the count. That is so in three cases: its execute returned
// nil after its interrupt had ended; or its interrupt ended after a return
// the runner had recorded before calling it (returnRecorded); or after a
// return that claimed the shutdown, which the runner adopts (claim.go).
// Nothing is to be logged or timed (endsQuietly). It relies on these:
//   - the interrupt ends only after the shutdown began (only an
//     interrupter that interruptStage or a claim starts calls it), so a nil
//     return then is no failure and no cause;
//   - a's stage is counted down here and nowhere else: no event for a
//     follows (the first of its ends was counted, or recorded, first),
//     and endsQuietly excludes the actors whose own Timeout or readiness
//     check would mark them done otherwise;
//   - the runner reads the actor's end from its status, not from returned
//     and interruptDone, which may stay unset: stragglers knows, and
//     settle is never called for it.
//
// The last of a stage to end tells the runner, which may be waiting.
func (r *runner) endedClean(a *Actor) {
	a.setStatus(actorEndedClean)
	if r.pending[a.settings().stage].Add(-1) == 0 {
		r.events.send(event{kind: stageEmptied})
	}
}

// awaitCause waits for the return, the failure or the request from
// outside that begins the shutdown, starting actors as what they start
// after becomes ready.
func (r *runner) awaitCause() {
	for r.cause == nil {
		ev, _ := r.events.receive(nil, nil) // only returns, readiness, a stop, and a deadline can come before the shutdown
		if c := r.takeClaim(); c != nil {
			r.adopt(c)
			r.record(ev) // an event sent after the claim, or one that lost to it
			break
		}
		switch ev.kind {
		case stopAsked:
			r.cause = &outsideCause{err: ev.err, run: r.life}
			r.stopCalled = ev.err == errStopCalled
			r.outside = !r.stopCalled
			continue
		case deadlineMoved:
			r.record(ev)
			continue
		}
		failure := r.record(ev)
		switch {
		case failure != nil:
			failure.run = r.life
			r.cause, r.causeActor = failure, failure.Actor
		case ev.kind != returned && ev.kind != returnedAfterInterrupt:
		case ev.actor.isOneShot():
			// A one-shot is ready once done, unless a check says when, and
			// what starts after it may start; but a group whose every actor
			// is done stops, without having been ready for nothing.
			r.lastOneShot = ev.actor
			if ev.actor.readyBy() == readyOnReturn && (r.running > 0 || r.order.waitFor(ev.actor)) {
				r.markReady(ev.actor)
			}
		default:
			r.returnedCause(ev.actor)
		}
		if r.cause == nil && r.running == 0 && r.checks == 0 && r.lastOneShot != nil {
			r.returnedCause(r.lastOneShot) // every actor started is done
		}
	}
	if r.log.l != nil || r.timeout > 0 || r.life.parent != nil {
		r.shutdownAt = time.Now() // for the log, and for the deadline when there is one
	}
	r.neverStarted()
	if r.startClock != nil {
		r.startClock.Stop()
	}
	if r.cancelChecks != nil {
		r.cancelChecks(r.cause)
	}
	r.status.stopBegins(r.cause)
	if r.nestStopping != nil && !r.outside {
		r.nestStopping(r.cause)
	}
	r.log.shutdownBegun(r.causeActor, r.cause, r.notStarted)
	if r.timeout > 0 {
		r.tighten(r.shutdownAt.Add(r.timeout))
	}
	if r.life.parent != nil {
		r.tighten(r.life.parent.shutdownDeadline())
	}
}

// returnedCause makes a's clean return the shutdown's cause.
func (r *runner) returnedCause(a *Actor) {
	name := a.displayName()
	r.ownCause = ActorError{Actor: name, Err: ErrReturned, run: r.life}
	r.cause, r.causeActor = &r.ownCause, name
}

// tighten brings the shutdown's deadline forward to at, when at is set and
// earlier: a nested group stops waiting when its own deadline passes, or
// when the enclosing group's does, whichever comes first.
func (r *runner) tighten(at time.Time) {
	if at.IsZero() || (!r.deadlineAt.IsZero() && !at.Before(r.deadlineAt)) {
		return
	}
	r.deadlineAt = at
	if r.deadline == nil {
		r.deadline = time.NewTimer(time.Until(at))
	} else {
		r.deadline.Reset(time.Until(at))
	}
	r.life.setDeadline(at)
}

// deadlinePassed is the channel to select on; nil, which never fires,
// while there is no deadline.
func (r *runner) deadlinePassed() <-chan time.Time {
	if r.deadline == nil {
		return nil
	}
	return r.deadline.C
}

// shutdown interrupts stage after stage until every actor is done or the
// shutdown deadline passes.
func (r *runner) shutdown() error {
	defer func() {
		if r.deadline != nil {
			r.deadline.Stop()
		}
	}()
	if r.delayApplies() {
		r.delay()
	}
	stage := 0
	if !r.claimedByActor {
		r.interruptStage(stage)
	}
	for {
		for stage < len(r.stages) && r.pending[stage].Load() == 0 {
			r.log.stageDone(stage, len(r.stages), r.shutdownAt)
			stage++
			if stage < len(r.stages) {
				r.interruptStage(stage)
			}
		}
		if stage == len(r.stages) {
			break
		}
		ev, tick := r.events.receive(r.deadlinePassed(), nil)
		if tick != 0 {
			r.drainEvents()
			stragglers := r.stragglers()
			// Every interrupt is called once even now, so that no actor is
			// left running unasked; Run does not wait for these.
			for later := stage + 1; later < len(r.stages); later++ {
				r.interruptStage(later)
			}
			return r.finish(stragglers, r.deadlineAt.Sub(r.shutdownAt))
		}
		r.record(ev)
	}
	r.drainEvents()
	return r.finish(r.stragglers(), 0)
}

func (r *runner) interrupt(a *Actor, cause error) {
	defer func() {
		// An interrupt that ends before its execute returns is reported with
		// that return: one event instead of two, in the usual case. One that
		// ends after a return the runner knows of needs none.
		if a.countEnd() == 2 {
			if a.has(flagReturnRecorded) {
				r.endedClean(a)
			} else {
				r.events.send(event{a, interruptEnded, nil})
			}
		}
	}()
	// Begun before its Timeout starts: an actor whose Timeout has passed
	// must be named if its interrupt is still running when Run returns.
	a.mark(flagCalling)
	sp := a.settings()
	if sp.timeout > 0 {
		r.startTimer(a, sp)
	}
	report := func(err *ActorError) {
		r.log.interruptFailed(err)
		r.mu.Lock()
		r.lateErrors = append(r.lateErrors, err)
		r.mu.Unlock()
	}
	callInterrupt(a, cause, report)
	if sp.release != nil && a.status() == actorNeverStarted {
		// A nested group that will never run releases its own actors,
		// as one that Run refused does.
		if err := sp.release(); err != nil {
			report(&ActorError{Actor: a.displayName(), Err: err})
		}
	}
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
// stopped waiting, a timer would only outlive it. sp is a's settings, its
// own: it has a Timeout.
func (r *runner) startTimer(a *Actor, sp *settings) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.over {
		sp.timer = time.AfterFunc(sp.timeout, func() { r.events.send(event{a, timeoutExpired, nil}) })
	}
}

// record applies one event, and gives the actor's failure if it returned one.
func (r *runner) record(ev event) *ActorError {
	a := ev.actor
	switch ev.kind {
	case stopAsked:
		// The enclosing group began its shutdown after this one had: its
		// deadline may come first.
		var rc runCause
		if errors.As(ev.err, &rc) && rc.runOf() != nil {
			r.tighten(rc.runOf().shutdownDeadline())
		}
		return nil
	case deadlineMoved:
		r.moved.Store(false)
		if r.cause != nil { // before its own shutdown, a group has no deadline to keep
			r.tighten(r.life.parent.shutdownDeadline())
		}
		return nil
	case interruptEnded:
		a.mark(flagInterruptDone)
		r.settle(a)
		return nil
	case timeoutExpired:
		if !a.has(flagDone) {
			r.log.actorDeadline(a)
			r.markDone(a)
		}
		return nil
	case becameReady:
		if r.cause == nil && a.readyBy() == readyAnnounced {
			r.markReady(a)
		}
		return nil
	case checkEnded:
		return r.checkEnded(a, ev.err)
	case startExpired:
		if r.cause == nil && r.notReady > 0 {
			return r.notReadyInTime()
		}
		return nil
	case stageEmptied, shutdownClaimed:
		return nil // the shutdown's loop reads the counts; takeClaim read the claim
	}
	a.mark(flagReturned)
	a.setStatus(actorStopped)
	// Only ever set here: the interrupt's own event can arrive before this
	// one, when it ends between execute's count and execute's send.
	if ev.kind == returnedAfterInterrupt {
		a.mark(flagInterruptDone)
	}
	r.running--
	r.settle(a)
	if ev.err != nil {
		r.join(ev.err)
	}
	// A stop asked of an actor once the shutdown has begun (a supervisor's
	// SIGTERM during a stop delay that Group.Stop began) is only noted:
	// the group is stopping already, and a failure would cut the delay.
	interrupted := a.settings().stage < r.interruptedStages
	failure := !isEcho(ev.err, interrupted, r.cause) &&
		!(r.cause != nil && onlyRequestedStops(ev.err))
	if r.log.l != nil {
		r.log.returned(a, r.startedAt[a.index], ev.err, failure)
	}
	if !failure {
		return nil
	}
	err := &ActorError{Actor: a.displayName(), Err: ev.err}
	r.failed = append(r.failed, err)
	return err
}

// join tells a returned error that wants to know the Run of it; apart,
// so that a nil return allocates nothing for errors.As.
func (r *runner) join(err error) {
	var joiner runJoiner
	if errors.As(err, &joiner) {
		joiner.joinRun(r.life)
	}
}

// settle marks an actor done once both its execute and its interrupt have
// returned: Run waits for interrupts too, so that none is left running,
// still closing something, after Run has returned.
func (r *runner) settle(a *Actor) {
	if !a.has(flagReturned) || !a.has(flagInterruptDone) || a.has(flagChecking) {
		return
	}
	if a.ownTimeout() > 0 {
		r.mu.Lock()
		if timer := a.settings().timer; timer != nil {
			timer.Stop()
		}
		r.mu.Unlock()
	}
	r.markDone(a)
}

func (r *runner) markDone(a *Actor) {
	if !a.has(flagDone) {
		a.mark(flagDone)
		r.pending[a.settings().stage].Add(-1)
	}
}

// drainEvents applies events that raced with the end of the shutdown, so
// that an actor that did return is not named a straggler.
func (r *runner) drainEvents() {
	for ev, ok := r.events.poll(); ok; ev, ok = r.events.poll() {
		r.record(ev)
	}
}

// stragglers names the actors whose execute, or whose interrupt, is still
// running. An interrupt not yet begun is not running.
func (r *runner) stragglers() []string {
	var names []string
	for a := range r.actors.all() {
		if a.status() == actorEndedClean {
			continue
		}
		if !a.has(flagReturned) || a.has(flagChecking) || (a.has(flagCalling) && !a.has(flagInterruptDone)) {
			names = append(names, a.displayName())
		}
	}
	return names
}

// finish builds Run's error. shutdownTimeout is the group's deadline if it
// is what passed.
func (r *runner) finish(stragglers []string, shutdownTimeout time.Duration) error {
	r.log.stopped(r.shutdownAt, stragglers)

	r.mu.Lock()
	r.over = true
	if r.timed {
		for a := range r.actors.all() {
			if timer := a.settings().timer; timer != nil {
				timer.Stop()
			}
		}
	}
	errs := append(r.failed, r.lateErrors...)
	r.mu.Unlock()
	if r.stopCalled {
		errs = append([]error{errStopCalled}, errs...)
	}
	if r.notStarted != nil {
		if errors.Is(r.cause, ErrReturned) {
			// A clean return that left actors unstarted: say which.
			errs = append(errs, r.cause)
		}
		errs = append(errs, &NotStartedError{Actors: r.notStarted})
	}
	if stragglers != nil {
		errs = append(errs, &TimeoutError{Stragglers: stragglers, ShutdownTimeout: shutdownTimeout})
	}
	return join(errs...)
}
