package troupe

// A group of plain actors lets its first return begin the shutdown
// itself. Otherwise the runner wakes for that return, names the cause and
// starts the interrupts, then wakes again for their ends: two wake-ups of
// Run's goroutine on the way where one will do. The returning actor
// claims the shutdown instead, on its own goroutine: it names the cause,
// moves the group to Stopping and starts the interrupts, and its return
// and its interrupt's end need no event. Run wakes once, when the last
// actor is done, and adopts the claim as if it had found the cause
// itself.
//
// The claim is one compare-and-swap, and every cause goes through it.
// Whatever would otherwise begin the shutdown through the runner claims
// it for the runner first: Group.Stop before it tells the runner, a
// return during the start (see claimsOpen), and the runner itself as it
// wakes, before it applies the event that woke it. An actor that finds
// the shutdown claimed reports its return as it would without claims. So
// exactly one cause stands, it is in place before any interrupt is
// called, and what happened first, a Stop that returned or a return,
// is the cause.
//
// Claims open only once the runner has started every actor: a claim
// during the start would interrupt actors not yet started, and stop the
// group before it could be Ready, where the runner, which applies events
// only after the start, lets it become Ready first.

// claim is a claim on a group's shutdown, with its cause.
type claim struct {
	actor   *Actor        // the actor whose return claimed it, after the start
	cause   ActorError    // an actor's claim: the cause, given to every interrupt
	failure bool          // the actor failed, and the cause is its failure
	stop    *outsideCause // Group.Stop's claim: the cause
	// Neither: the runner's own (runClaim), whose cause it finds in its
	// events, in turn.
}

// claimsAllowed reports whether the actors may claim the shutdown, given
// that every actor may (actorMayClaim): when nothing that the runner does
// as the shutdown begins would be skipped. That rules out a logger to
// tell, more than one stop stage, a start order, a start deadline or a
// stop delay, and an enclosing group.
func (r *runner) claimsAllowed(in nesting) bool {
	return in.outermost && r.log.l == nil && len(r.stages) == 1 && r.order == nil &&
		r.startTimeout <= 0 && r.stopDelay <= 0
}

// actorMayClaim reports whether an actor with settings sp, which becomes
// ready as readyBy and ends quietly or not, needs the runner neither once
// it returns nor before it is ready. That rules out a one-shot, a
// readiness check, an adapter that announces readiness, its own Timeout
// (no longer quiet), and a nested or restarted group. newRunner asks it
// as it prepares each actor, so that the actors are walked once.
func actorMayClaim(sp *settings, readyBy readiness, quiet bool) bool {
	return readyBy == readyAtStart && quiet && sp.join == nil && sp.release == nil
}

// claimShutdown claims the shutdown for a's return with err, and begins
// it, if nothing has claimed it yet. It is called on a's goroutine, as
// execute returns.
func (r *runner) claimShutdown(a *Actor, err error) bool {
	if !r.claimsOpen.Load() {
		// The runner applies it after the start, in turn; no later return
		// may claim the shutdown ahead of it.
		r.claimFor(&r.runClaim)
		return false
	}
	if r.claim.Load() != nil {
		return false
	}
	c := &claim{actor: a, cause: ActorError{Actor: a.displayName(), Err: ErrReturned, run: r.life}}
	if !isEcho(err, false, nil) { // as record judges a return before the shutdown
		c.cause.Err, c.failure = err, true
	}
	if _, won := r.claimFor(c); !won {
		return false
	}
	if err != nil {
		r.join(err)
	}
	// The runner reads neither before it adopts the claim, and the
	// interrupter started below reads returnRecorded only after this.
	a.mark(flagReturnRecorded)
	a.setStatus(actorStopped)
	a.countEnd() // before any interrupt can end: see interrupt
	r.status.stopBegins(&c.cause)
	if r.timeout > 0 {
		// The deadline counts from now: the runner must wake to set it.
		r.events.send(event{kind: shutdownClaimed})
	}
	// Its own interrupt too goes to the interrupter, though this goroutine
	// is free and would save one: the execute may have left it locked to
	// a thread it changed (a namespace, a working directory), which Go
	// ends with the goroutine, and the interrupt must not run there.
	r.startInterrupts(0, &c.cause)
	return true
}

// claimFor makes c the shutdown's claim, unless another came first: it
// reports whether c stands, and gives the claim that does. Any goroutine
// may call it. Without claims every claim stands, and the runner orders
// the causes by its events, as ever.
func (r *runner) claimFor(c *claim) (standing *claim, won bool) {
	if !r.claims || r.claim.CompareAndSwap(nil, c) {
		return c, true
	}
	return r.claim.Load(), false
}

// takeClaim claims the shutdown for the runner, which has woken and may
// find its cause in its events; or it gives the claim that came first,
// an actor's or Stop's, which the runner must adopt before it applies
// anything.
func (r *runner) takeClaim() *claim {
	if standing, won := r.claimFor(&r.runClaim); !won && standing != &r.runClaim {
		return standing
	}
	return nil
}

// adopt makes a claim's cause the runner's. For an actor's, it applies
// the return that made it, as record would have, and the interrupts have
// begun. The actors count as interrupted from here, as after
// interruptStage: the events that follow are applied as during the
// shutdown.
func (r *runner) adopt(c *claim) {
	if c.stop != nil {
		r.cause = c.stop
		r.stopCalled = c.stop.err == errStopCalled
		r.outside = !r.stopCalled
	} else {
		r.cause, r.causeActor = &c.cause, c.cause.Actor
		if c.failure {
			r.failed = append(r.failed, &c.cause)
		}
		c.actor.mark(flagReturned)
		r.running--
		r.claimedByActor = true
	}
	r.interruptedStages = len(r.stages) // one: see claimsAllowed
}
