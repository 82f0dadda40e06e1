package bench

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// floorGroup is floorcontract made a group type: the least a library can
// do that keeps, besides floorcontract's part of the contract, what every
// Run must be able to honour whether or not this one uses it. Stop may be
// called from any goroutine at any time, so Run waits on a channel and not
// on a WaitGroup; a ShutdownTimeout may be set, so Run must be able to
// stop waiting while interrupts run, which keeps them off its goroutine;
// the state can be read at any time; and the cause that every interrupt
// is given names the actor that returned first. It has no stages, own
// timeouts, readiness, nesting or logging, which a group pays for only
// when it uses them.
type floorGroup struct {
	ShutdownTimeout time.Duration

	mu      sync.Mutex
	pairs   []pair
	errs    []error // an execute's error, by actor
	late    []error // the interrupts' failures, under mu
	state   atomic.Int32
	stopped chan struct{} // made by Run; closed by Stop
	stopMu  sync.Once

	begun   atomic.Bool   // the shutdown has begun: interrupts are taken
	timing  chan struct{} // closed as it begins, when a ShutdownTimeout is set
	cause   error
	next    atomic.Int64
	spare   atomic.Bool
	live    atomic.Int64 // executes and interrupts not yet ended
	allDone chan struct{}
}

const (
	floorStarting int32 = iota
	floorRunning
	floorStopping
	floorStopped
)

// floorActorError is the cause's type: an actor's name and what it
// returned.
type floorActorError struct {
	actor string
	err   error
}

func (e *floorActorError) Error() string { return e.actor + ": " + e.err.Error() }
func (e *floorActorError) Unwrap() error { return e.err }

var errFloorReturned = errors.New("returned")

func (g *floorGroup) Add(execute func() error, interrupt func(error)) {
	g.mu.Lock()
	g.pairs = append(g.pairs, pair{execute, interrupt})
	g.mu.Unlock()
}

// Stop begins the shutdown from outside.
func (g *floorGroup) Stop() {
	g.mu.Lock()
	stopped := g.stopped
	g.mu.Unlock()
	if stopped != nil {
		g.stopMu.Do(func() { close(stopped) })
	}
}

func (g *floorGroup) Run() error {
	g.mu.Lock()
	pairs := g.pairs
	g.errs = make([]error, len(pairs))
	g.stopped = make(chan struct{})
	stopped := g.stopped
	g.mu.Unlock()
	g.allDone = make(chan struct{})
	if g.ShutdownTimeout > 0 {
		g.timing = make(chan struct{})
	}
	timing := g.timing
	g.live.Store(int64(2 * len(pairs)))
	g.state.Store(floorRunning)
	for i := range pairs {
		go g.execute(i)
	}
	var deadline <-chan time.Time
	for {
		select {
		case <-g.allDone:
			g.state.Store(floorStopped)
			return g.result()
		case <-stopped:
			stopped = nil
			if g.begin(errors.New("stop called")) {
				go g.interruptAll()
			}
		case <-timing:
			timing, deadline = nil, time.After(g.ShutdownTimeout)
		case <-deadline:
			g.state.Store(floorStopped)
			return errors.New("deadline passed")
		}
	}
}

func (g *floorGroup) execute(i int) {
	err := guarded(g.pairs[i].execute)
	g.errs[i] = err
	if g.begun.Load() || !g.begin(nil) {
		g.end()
		return
	}
	name := "actor-" + strconv.Itoa(i+1)
	if err == nil {
		err = errFloorReturned
	}
	g.cause = &floorActorError{name, err}
	g.end()
	go g.interruptAll() // not on this goroutine: see floorcontractStartStop
}

// begin claims the shutdown; only the first claim counts.
func (g *floorGroup) begin(outside error) bool {
	if !g.begun.CompareAndSwap(false, true) {
		return false
	}
	g.cause = outside
	g.state.Store(floorStopping)
	if g.timing != nil {
		close(g.timing)
	}
	return true
}

// interruptAll calls the interrupts with a spare goroutine waiting, as
// floorcontract does.
func (g *floorGroup) interruptAll() {
	g.spare.Store(false)
	for {
		i := int(g.next.Add(1) - 1)
		if i >= len(g.pairs) {
			return
		}
		if i+1 < len(g.pairs) && !g.spare.Load() && g.spare.CompareAndSwap(false, true) {
			go g.interruptAll()
		}
		if err := guarded(func() error { g.pairs[i].interrupt(g.cause); return nil }); err != nil {
			g.mu.Lock()
			g.late = append(g.late, err)
			g.mu.Unlock()
		}
		g.end()
	}
}

func (g *floorGroup) end() {
	if g.live.Add(-1) == 0 {
		close(g.allDone)
	}
}

// result is the cause when an actor failed, joined with the other
// failures.
func (g *floorGroup) result() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return errors.Join(append(g.errs, g.late...)...)
}

func floorgroupStartStop(n int) {
	var g floorGroup
	for range n {
		g.Add(blockUntilInterrupted())
	}
	g.Add(returnAtOnce())
	if err := g.Run(); err != nil {
		panic(err)
	}
}
