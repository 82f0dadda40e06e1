package troupe

import (
	"errors"
	"time"
)

// delayApplies reports whether the shutdown waits Group.StopDelay before
// its interrupts: only for a stop asked of a group that was ready, by a
// signal, a parent context or Group.Stop. A failure, or a stop while still
// starting, is not delayed: there is nothing to hand over gracefully, and
// a crash must not wait.
func (r *runner) delayApplies() bool {
	return r.stopDelay > 0 && !r.outside && r.status.wasReady() && errors.Is(r.cause, ErrStopRequested)
}

// delay keeps the actors running for StopDelay while readiness reports
// the stop, so that load balancers take the endpoint out before the
// servers stop accepting; the server adapters answer with Connection:
// close meanwhile. An actor's failure ends the delay at once, and so does
// the shutdown's deadline, which the delay counts against.
func (r *runner) delay() {
	r.log.stopDelay(r.stopDelay)
	if n := r.life.existingNotice(); n != nil {
		n.begin()
	}
	t := time.NewTimer(r.stopDelay)
	defer t.Stop()
	for {
		switch ev, tick := r.events.receive(t.C, r.deadlinePassed()); tick {
		case 0:
			if failure := r.record(ev); failure != nil {
				r.log.delayCut(failure)
				return
			}
		case 1:
			return
		case 2:
			r.deadline.Reset(0) // fire again, for shutdown to see
			return
		}
	}
}
