package troupe

import "sync/atomic"

// interrupter calls the interrupts of one stop stage, concurrently: one
// that blocks (a Shutdown waiting for its requests) must not delay the
// others, as it does in oklog/run, where N slow ones take N times as long.
//
// A goroutine per interrupt would do that, and costs a goroutine for each
// of the many interrupts that only close a channel. Instead workers take
// the interrupts in turn, and a worker that is about to call one makes
// sure first that a spare worker is waiting to run: if the call blocks,
// the scheduler runs the spare on the freed processor at once, which
// takes the next interrupt, leaving a spare of its own. No clock decides
// when to add a worker, so interrupts that block all begin as fast as
// goroutines can be started, as with a goroutine each, while quick ones
// share two or three goroutines.
//
// The invariant: while interrupts remain untaken, either a spare is
// waiting (spare is true: exactly one started worker has not yet run) or
// a worker is running between calls, and will take the next. A worker
// sets spare only by compare-and-swap from false, starting one goroutine
// for it, and that goroutine clears it first thing; so there is never
// more than one spare. An interrupt that panics is recovered (see
// callInterrupt); one that calls runtime.Goexit ends its worker, whose
// spare takes over.
//
// The price of sharing: what an interrupt leaves on its goroutine, a
// thread lock or profiler labels, stays for the interrupts its worker
// takes next; Go offers no way to see or undo either. Group.Add's
// documentation asks interrupts not to. A goroutine per interrupt cost
// 1.4 times oklog/run's start and stop at 100 actors, against 0.8 times
// this way (bench/README.md).
type interrupter struct {
	r      *runner
	actors stage
	n      int          // the stage's actors
	cause  error        // the shutdown's: the runner's, or the claim's before the runner adopts it
	next   atomic.Int64 // the index of the next interrupt to take
	spare  atomic.Bool
}

// interruptStage counts the kth stage's actors interrupted and starts
// calling their interrupts.
func (r *runner) interruptStage(k int) {
	actors := r.stages[k]
	r.interruptedStages = k + 1
	for i := range actors.len() {
		a := actors.at(i)
		// Stopped, not NeverStarted: an actor that never started keeps
		// that state, which endedClean would overwrite.
		if a.has(flagEndsQuietly) && a.status() == actorStopped {
			a.mark(flagReturnRecorded)
		}
	}
	r.startInterrupts(k, r.cause)
}

// startInterrupts starts calling the kth stage's interrupts. A claim
// calls it off the runner's goroutine, and so it touches only what any
// goroutine may. Health reads the stage's started actors as stopping from
// here on (healthStatus): one store for the stage, where marking each
// actor would delay the first interrupt by a locked operation per actor.
func (r *runner) startInterrupts(k int, cause error) {
	actors := r.stages[k]
	r.stoppingStages.Store(int32(k + 1)) // stages are interrupted in order
	n := actors.len()
	if n == 0 {
		return
	}
	c := &r.firstStage
	if c.r != nil {
		c = &interrupter{} // a later stage; the usual group has one
	}
	c.r, c.actors, c.n, c.cause = r, actors, n, cause
	c.spare.Store(true)
	go c.work()
}

// work takes interrupts until none is left; see interrupter.
func (c *interrupter) work() {
	c.spare.Store(false)
	for {
		i := int(c.next.Add(1) - 1)
		if i >= c.n {
			return
		}
		// Loaded first: a failed compare-and-swap still locks the line.
		if i+1 < c.n && !c.spare.Load() && c.spare.CompareAndSwap(false, true) {
			go c.work()
		}
		c.r.interrupt(c.actors.at(i), c.cause)
	}
}
