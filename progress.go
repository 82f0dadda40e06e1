package troupe

// An actor's progress through a Run is one word, Actor.word: an idle
// group holds an Actor for each actor, and packed so, the Actor takes 32
// bytes, no more than oklog/run's pair and its error slot
// (bench/README.md, Idle). From its lowest bit, the word holds how many of
// the actor's execute and interrupt calls have ended (two bits; see
// endedClean), its status (three bits: actorWaiting and on), how it
// becomes ready (two bits, set by newRunner), and the flags.
//
// Every access is atomic, also to the flags only the runner's goroutine
// uses: they share the word with bits that other goroutines change.
const (
	endsMask     = 0b11
	statusShift  = 2
	statusMask   = 0b111 << statusShift
	readyByShift = 5
	readyByMask  = 0b11 << readyByShift
)

// flag is one bit of an actor's progress.
type flag uint32

const (
	flagCalling        flag = 1 << (7 + iota) // its interrupt has been entered
	flagReturned                              // the runner has applied its return, or it never started
	flagInterruptDone                         // the runner knows its interrupt ended
	flagDone                                  // execute and interrupt returned, or its own deadline passed
	flagReady                                 // the runner counted it ready
	flagChecking                              // its readiness check runs
	flagEndsQuietly                           // a nil return after its interrupt needs no event: see endedClean
	flagReturnRecorded                        // its return was recorded, or claimed, before its interrupt was called: see endedClean
)

func (a *Actor) has(f flag) bool { return a.word.Load()&uint32(f) != 0 }
func (a *Actor) mark(f flag)     { a.word.Or(uint32(f)) }
func (a *Actor) unmark(f flag)   { a.word.And(^uint32(f)) }

// countEnd counts the end of the actor's execute or interrupt, and gives
// how many have ended.
func (a *Actor) countEnd() uint32 { return a.word.Add(1) & endsMask }

func (a *Actor) status() uint32 { return a.word.Load() & statusMask >> statusShift }

func (a *Actor) setStatus(s uint32) {
	for {
		old := a.word.Load()
		if a.word.CompareAndSwap(old, old&^statusMask|s<<statusShift) {
			return
		}
	}
}

// swapStatus moves the actor from status from to status to, and reports
// whether it was in from.
func (a *Actor) swapStatus(from, to uint32) bool {
	for {
		old := a.word.Load()
		if old&statusMask>>statusShift != from {
			return false
		}
		if a.word.CompareAndSwap(old, old&^statusMask|to<<statusShift) {
			return true
		}
	}
}

// healthStatus gives the status as health reports it, given how many stop
// stages have begun their interrupts: a started actor of such a stage is
// stopping. The runner does not store that status, which would cost the
// shutdown a locked operation per actor before its first interrupt. The
// stage is read only once one has begun: Run sets it before that, and
// the count's store orders the two. notReady says whether NotReady names
// the actor: waiting, starting, never started, or stopped while its
// readiness check is still to pass (a one-shot that returned first).
func (a *Actor) healthStatus(stoppingStages int) (status uint32, notReady bool) {
	w := a.word.Load()
	s := w & statusMask >> statusShift
	if (s == actorStarting || s == actorReady) && stoppingStages > 0 && a.settings().stage < stoppingStages {
		return actorStopping, false
	}
	checkPending := w&uint32(flagChecking) != 0 && w&uint32(flagReady) == 0
	return s, s == actorWaiting || s == actorStarting || s == actorNeverStarted || (s == actorStopped && checkPending)
}

// startedNotReady reports whether the actor has started and is not ready:
// it is starting, or it is a one-shot that returned before its readiness
// check passed. Only the runner's goroutine marks an actor ready.
func (a *Actor) startedNotReady() bool {
	s := a.status()
	return s != actorWaiting && s != actorNeverStarted && !a.has(flagReady)
}

func (a *Actor) readyBy() readiness { return readiness(a.word.Load() & readyByMask >> readyByShift) }

// prepare sets how the actor becomes ready and whether it ends quietly,
// once, as its Run begins.
func (a *Actor) prepare(readyBy readiness, endsQuietly bool) {
	bits := uint32(readyBy) << readyByShift
	if endsQuietly {
		bits |= uint32(flagEndsQuietly)
	}
	a.word.Or(bits)
}
