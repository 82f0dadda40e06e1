package troupe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// State is where a group is in its life. It only moves forward:
// Starting, Ready, Stopping, Stopped; a group stopped while it started
// goes from Starting to Stopping.
type State int32

const (
	// Starting is the state before Run, and while some actor is not yet
	// ready or not yet started.
	Starting State = iota
	// Ready means every actor has started and is ready.
	Ready
	// Stopping begins the moment the shutdown does, before the
	// [Group.StopDelay] and the interrupts.
	Stopping
	// Stopped means Run has returned, or is about to.
	Stopped
)

// String gives the state's name in lower case, as the health handler
// writes it.
func (s State) String() string {
	switch s {
	case Starting:
		return "starting"
	case Ready:
		return "ready"
	case Stopping:
		return "stopping"
	case Stopped:
		return "stopped"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// ErrNotReady is matched by errors.Is when an actor was not ready within
// [Group.StartTimeout], and by [Group.WaitReady]'s error when the group
// stopped before it was ready.
var ErrNotReady = errors.New("troupe: not ready")

// errStopCalled is the cause that [Group.Stop] gives the interrupts, and
// what Run returns for it.
var errStopCalled error = &stopCalled{}

type stopCalled struct{}

func (*stopCalled) Error() string        { return "troupe: stop requested by Group.Stop" }
func (*stopCalled) Is(target error) bool { return target == ErrStopRequested }

// groupStatus is what any goroutine may read of a group's life. Only the
// Run moves the state, always forward. The channels are made only when
// someone waits on them, so that a group nobody watches pays two atomic
// operations per move.
type groupStatus struct {
	word    atomic.Int32 // the State, and readyBit once Ready was reached: one word, so both move together
	watched atomic.Bool  // the channels below exist: moves must close them

	mu       sync.Mutex
	ready    chan struct{} // closed once Ready is reached
	stopping chan struct{} // closed once Stopping (or Stopped) is reached
	stopped  chan struct{} // closed once Stopped is reached
	cause    error         // why the shutdown began
}

// readyBit marks a status word whose group was Ready at some point.
const readyBit = 1 << 8

func (st *groupStatus) state() State { return State(st.word.Load() &^ readyBit) }

// wasReady reports whether the group reached Ready before it stopped.
func (st *groupStatus) wasReady() bool { return st.word.Load()&readyBit != 0 }

// enter moves the state forward to s; Stop moves it too, from another
// goroutine, so a move is a compare-and-swap and never goes back. It pairs
// with watch: the state is stored before watched is read, and watched
// before the state, so one of the two sees the other and no channel stays
// open.
func (st *groupStatus) enter(s State) {
	for {
		old := st.word.Load()
		if State(old&^readyBit) >= s {
			return
		}
		next := int32(s) | old&readyBit
		if s == Ready {
			next |= readyBit
		}
		if st.word.CompareAndSwap(old, next) {
			break
		}
	}
	if st.watched.Load() {
		st.mu.Lock()
		st.wake()
		st.mu.Unlock()
	}
}

// stopBegins records the cause and moves to Stopping; the first cause
// stays.
func (st *groupStatus) stopBegins(cause error) {
	st.mu.Lock()
	if st.cause == nil {
		st.cause = cause
	}
	st.mu.Unlock()
	st.enter(Stopping)
}

// watch gives the channels, made on first use.
func (st *groupStatus) watch() (ready, stopping, stopped <-chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ready == nil {
		st.ready, st.stopping, st.stopped = make(chan struct{}), make(chan struct{}), make(chan struct{})
		st.watched.Store(true)
	}
	st.wake()
	return st.ready, st.stopping, st.stopped
}

// wake closes the channels of the states reached; st.mu is held.
func (st *groupStatus) wake() {
	if st.ready == nil {
		return
	}
	s := st.state()
	closeOnce := func(ch chan struct{}, reached bool) {
		if !reached {
			return
		}
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	closeOnce(st.ready, st.wasReady())
	closeOnce(st.stopping, s >= Stopping)
	closeOnce(st.stopped, s >= Stopped)
}

func (st *groupStatus) stopCause() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cause
}

// State gives the group's state. It is safe to call from any goroutine,
// before, during and after Run.
func (g *Group) State() State { return g.status.state() }

// NotReady names the actors that are not ready, in the order they were
// added: those started whose readiness is still to come, those not
// started yet, and those that never started, because the shutdown came
// before what they start after was ready, or the group was stopped or
// refused before its Run started anything. It is safe to call from any
// goroutine. Before Run it names every actor.
func (g *Group) NotReady() []string {
	var names []string
	for _, a := range g.actorStates() {
		if a.notReady {
			names = append(names, a.name)
		}
	}
	return names
}

// actorState is one actor's name and state, as health reports them.
type actorState struct {
	name     string
	status   uint32
	notReady bool // NotReady names it: see healthStatus
}

// actorStates gives every actor's name and state. Names may still change
// before Run, so they are read under the group's lock.
func (g *Group) actorStates() []actorState {
	g.mu.Lock()
	defer g.mu.Unlock()
	states := make([]actorState, 0, g.actors.len())
	stopping := int(g.runState.stoppingStages.Load())
	for a := range g.actors.all() {
		status, notReady := a.healthStatus(stopping)
		states = append(states, actorState{a.displayName(), status, notReady})
	}
	return states
}

// WaitReady waits until every actor of the group is ready, and returns
// nil then. It returns an error matching [ErrNotReady] if the group began
// to stop before it was ready, and ctx's cause if ctx ends first. It may
// be called from any goroutine, before or during Run.
func (g *Group) WaitReady(ctx context.Context) error {
	ready, stopping, _ := g.status.watch()
	select {
	case <-ready:
		return nil
	default:
	}
	select {
	case <-ready:
		return nil
	case <-stopping:
		select {
		case <-ready:
			return nil
		default:
		}
		return fmt.Errorf("troupe: the group stopped before it was ready (%w): %w", g.status.stopCause(), ErrNotReady)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Stop asks the group to shut down, as a signal does: a clean stop, after
// the [Group.StopDelay] if the group is ready. It may be called from any
// goroutine, any number of times; only the first call counts. Called
// before Run, it makes Run start nothing. Run's error then matches
// [ErrStopRequested], which [ExitCode] maps to 0, and interrupts get a
// cause that matches it too.
func (g *Group) Stop() { g.stop(errStopCalled) }

// Per-actor states, as health reports them. Run stores them; anyone may
// load them.
const (
	actorWaiting      uint32 = iota // not started: Run has not begun, or what it starts after is not ready
	actorStarting                   // execute runs; readiness still to come
	actorReady                      // execute runs, and the actor is ready
	actorStopping                   // interrupted; execute still runs: only as healthStatus gives it
	actorStopped                    // execute returned
	actorEndedClean                 // both ends counted without telling the runner: see endedClean
	actorNeverStarted               // the shutdown began before it could start
)

func actorStateName(s uint32) string {
	switch s {
	case actorWaiting:
		return "waiting"
	case actorStarting:
		return "starting"
	case actorReady:
		return "ready"
	case actorStopping:
		return "stopping"
	case actorStopped, actorEndedClean:
		return "stopped"
	case actorNeverStarted:
		return "never started"
	}
	return "unknown"
}
