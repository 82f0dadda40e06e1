package troupe

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

// Group runs actors together: it starts them all at once, the first to
// return begins the shutdown, and [Group.Run] returns once every actor has
// returned or a deadline has passed.
//
// The zero value is ready to use: no logging, and no shutdown deadline.
// A Group must not be copied after first use (go vet reports copies), and it
// runs once.
type Group struct {
	// Logger receives the lifecycle events: each actor started and returned,
	// the shutdown begun and its cause, each stop stage done, stragglers at a
	// deadline, and the group stopped. Nil logs nothing.
	Logger *slog.Logger

	// ShutdownTimeout bounds the whole shutdown, counted from the first
	// actor's return. When it passes, Run returns at once with a
	// [TimeoutError] that names every actor whose execute, or whose
	// interrupt, is still running. Before returning it calls the interrupts
	// of the actors whose stage had not yet come, and does not wait for
	// them; an actor among them whose execute had already returned is not
	// a straggler.
	//
	// Zero, the default, means Run waits for every actor, as oklog/run does.
	// The default is no bound because a library cannot know how long a drain
	// may take, and because returning leaves the stragglers' goroutines
	// running: that is right just before a process exits, and wrong in a
	// long-lived program that runs groups. Services should set it a few
	// seconds below their supervisor's kill deadline (Kubernetes's
	// terminationGracePeriodSeconds, systemd's TimeoutStopSec).
	ShutdownTimeout time.Duration

	mu      sync.Mutex // guards actors and started; sync.Mutex also makes vet flag copies
	actors  []*Actor
	started bool
}

// Add adds an actor: execute runs it, and interrupt must make execute
// return. The signature is oklog/run's, so code written for run.Group moves
// over by changing the type.
//
// Every interrupt is called exactly once, in its own goroutine, with the
// shutdown's cause: an [*ActorError] that names the actor that returned
// first. It may be called after execute has returned, or (when Run gave up
// at a deadline) before execute has started.
//
// Add panics once Run has started. A nil execute or interrupt makes Run
// return [ErrInvalid].
func (g *Group) Add(execute func() error, interrupt func(error)) *Actor {
	a := &Actor{group: g, execute: execute, interrupt: interrupt}
	switch {
	case execute == nil && interrupt == nil:
		a.nilFunc = "execute and interrupt functions"
	case execute == nil:
		a.nilFunc = "execute function"
	case interrupt == nil:
		a.nilFunc = "interrupt function"
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.started {
		panic("troupe: Add called after Run started")
	}
	a.index = len(g.actors)
	g.actors = append(g.actors, a)
	return a
}

// Go adds an actor that runs fn with a context that is cancelled when the
// actor is interrupted. The context's cause, from [context.Cause], is the
// shutdown's cause. A return of context.Canceled after that cancellation is
// a clean stop. Go is Add with [Func].
func (g *Group) Go(fn func(ctx context.Context) error) *Actor {
	if fn == nil {
		a := g.Add(nil, nil)
		a.nilFunc = "context function"
		return a
	}
	return g.Add(Func(fn))
}

// Run starts every actor at once and waits. The first actor to return, with
// nil or an error, begins the shutdown (unless it is [Actor.OneShot] and
// returned nil). Interrupts are then called concurrently, stage by stage in
// the order declared with [Actor.StopAfter].
//
// Run returns nil when the cause was a clean return. Otherwise it returns
// the cause first, joined with every other actor's failure and, if a
// deadline passed, a [TimeoutError]; each actor's error is an
// [*ActorError]. An interrupted actor's echo of its interruption
// (context.Canceled, [http.ErrServerClosed], or the cause itself) is not a
// failure. A signal stop returns the [*SignalError]; [ExitCode] maps it to 0.
//
// A panic in an actor or an interrupt becomes a [*PanicError] and the rest
// of the group shuts down gracefully.
//
// A misconfigured group returns [ErrInvalid] and starts nothing. A second
// Run returns [ErrAlreadyRun].
func (g *Group) Run() error {
	g.mu.Lock()
	if g.started {
		g.mu.Unlock()
		return ErrAlreadyRun
	}
	g.started = true
	actors := g.actors
	g.mu.Unlock()

	stages, err := plan(actors, g.ShutdownTimeout)
	if err != nil || len(actors) == 0 {
		return err
	}
	r := &runner{
		log:     logger{g.Logger},
		timeout: g.ShutdownTimeout,
		actors:  actors,
		stages:  stages,
		pending: make([]int, len(stages)),
		results: make(chan result, len(actors)),
		calmed:  make(chan *Actor, len(actors)),
		done:    make(chan struct{}),
	}
	for i, s := range stages {
		r.pending[i] = len(s)
	}
	return r.run()
}

// runner is the state of one Run. errgroup does not fit here: it reports
// only errors, not the first return, and its Wait cannot stop waiting at a
// deadline, so Run keeps its own few lines around a results channel.
type runner struct {
	log     logger
	timeout time.Duration
	actors  []*Actor
	stages  [][]*Actor
	pending []int // actors per stage not yet done
	results chan result
	calmed  chan *Actor // interrupts that have returned
	expired chan *Actor // per-actor deadlines; made only if an actor has one
	done    chan struct{}

	cause   *ActorError
	failed  []error
	running int

	mu         sync.Mutex // guards lateErrors, written by interrupt goroutines
	lateErrors []error
	shutdownAt time.Time
}

type result struct {
	actor *Actor
	err   error
}

func (r *runner) run() error {
	defer close(r.done)
	for _, a := range r.actors {
		if a.timeout > 0 && r.expired == nil {
			r.expired = make(chan *Actor, len(r.actors))
		}
		a.startedAt = time.Now()
		r.log.started(a)
		go r.execute(a)
	}
	r.running = len(r.actors)
	r.awaitCause()
	return r.shutdown()
}

func (r *runner) execute(a *Actor) {
	err := errGoexit
	defer func() { r.results <- result{a, err} }()
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
		res := <-r.results
		failure := r.record(res)
		switch {
		case failure != nil:
			failure.runDone = r.done
			r.cause = failure
		case !res.actor.oneShot || r.running == 0:
			r.cause = &ActorError{Actor: res.actor.displayName(), Err: ErrReturned, runDone: r.done}
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
	r.interruptStage(stage)
	for {
		for stage < len(r.stages) && r.pending[stage] == 0 {
			r.log.stageDone(stage, len(r.stages), time.Since(r.shutdownAt))
			stage++
			if stage < len(r.stages) {
				r.interruptStage(stage)
			}
		}
		if stage == len(r.stages) {
			break
		}
		select {
		case res := <-r.results:
			r.record(res)
		case a := <-r.calmed:
			r.interruptReturned(a)
		case a := <-r.expired:
			r.abandon(a)
		case <-deadline:
			r.drainResults()
			stragglers := r.stragglers()
			// Every interrupt is called once even now, so that no actor is
			// left running unasked; Run does not wait for these.
			for _, a := range r.actors {
				r.interrupt(a)
			}
			return r.finish(stragglers)
		}
	}
	r.drainResults()
	return r.finish(r.stragglers())
}

func (r *runner) interruptStage(stage int) {
	for _, a := range r.stages[stage] {
		r.interrupt(a)
	}
}

// interrupt calls a's interrupt in a goroutine of its own, because one
// interrupt that blocks (a Shutdown waiting for requests) must not delay the
// others: oklog/run calls them in turn, and N slow ones take N times as long.
func (r *runner) interrupt(a *Actor) {
	if a.interrupted {
		return
	}
	a.interrupted = true
	if a.timeout > 0 {
		a.timer = time.AfterFunc(a.timeout, func() { r.expired <- a })
	}
	go r.callInterrupt(a)
}

func (r *runner) callInterrupt(a *Actor) {
	defer func() { r.calmed <- a }()
	defer func() {
		if v := recover(); v != nil {
			err := &ActorError{Actor: a.displayName(), Err: &PanicError{Value: v, Stack: debug.Stack()}}
			r.log.interruptPanicked(err)
			r.mu.Lock()
			r.lateErrors = append(r.lateErrors, err)
			r.mu.Unlock()
		}
	}()
	a.interrupt(r.cause)
}

// record notes an actor's return and gives its failure, if it is one.
func (r *runner) record(res result) *ActorError {
	a := res.actor
	a.returned = true
	r.running--
	r.settle(a)
	failure := r.isFailure(a, res.err)
	r.log.returned(a, res.err, failure)
	if !failure {
		return nil
	}
	err := &ActorError{Actor: a.displayName(), Err: res.err}
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

// abandon stops waiting for an actor whose own deadline passed, so that
// later stages can go ahead.
func (r *runner) abandon(a *Actor) {
	if a.done {
		return
	}
	r.log.actorDeadline(a)
	r.markDone(a)
}

func (r *runner) interruptReturned(a *Actor) {
	a.interruptDone = true
	r.settle(a)
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

// drainResults records returns that raced with the end of the shutdown, so
// that an actor that did return is not named a straggler.
func (r *runner) drainResults() {
	for {
		select {
		case res := <-r.results:
			r.record(res)
		case a := <-r.calmed:
			r.interruptReturned(a)
		default:
			return
		}
	}
}

// stragglers names the actors whose execute, or whose interrupt, is still
// running.
func (r *runner) stragglers() []string {
	var names []string
	for _, a := range r.actors {
		if !a.returned || (a.interrupted && !a.interruptDone) {
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
