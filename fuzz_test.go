package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// FuzzGroup builds random groups and checks the contract's invariants. The
// seed corpus runs under plain go test; go test -fuzz=FuzzGroup explores
// further. Time is synctest's fake time, so deadlines are exact.
func FuzzGroup(f *testing.F) {
	for seed := range uint64(64) {
		f.Add(seed)
	}
	// Large single stages whose tiny Timeouts settle them while one
	// interrupt blocks: the interrupt crews this package once had left the
	// rest uncalled when Run returned (seed 29 above is one too).
	for _, seed := range []uint64{82, 111, 295, 296, 412, 455, 489} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		synctest.Test(t, func(t *testing.T) { checkRandomGroup(t, seed) })
	})
}

const (
	prompt = iota
	slow   // the interrupt blocks for a while before stopping execute
	ignored
)

// fuzzActor is one random actor and what happened to it, in fake time.
type fuzzActor struct {
	name      string
	selfStop  time.Duration // 0: never returns on its own
	outcome   int           // 0 nil, 1 error, 2 panic, when returning on its own
	interrupt int
	slowFor   time.Duration
	failOnInt bool // returns an error when interrupted
	oneShot   bool
	timeout   time.Duration
	after     []int
	stage     int

	// The lifecycle: actors it starts after (all of a higher index, so
	// that the stop order they imply agrees with StopAfter's), and a
	// readiness check.
	startAfter []int
	check      int           // noCheck, checkPasses, checkFails, checkNever
	checkAfter time.Duration // when the check passes or fails, from its call

	stop        chan struct{}
	release     chan struct{}
	running     *sync.WaitGroup // every execute and interrupt call, until it ends
	runReturned *atomic.Bool    // set once Run has returned
	group       *troupe.Group
	peers       []*fuzzActor // the whole group, for the health check its interrupt makes
	once        sync.Once
	err         error // what it returned, or the panic value's error
	calls       atomic.Int32

	mu             sync.Mutex
	returnedAt     time.Time
	interruptAt    time.Time
	interruptEndAt time.Time
	selfReturned   bool
	calledLate     bool // the interrupt began after Run had returned
	startedAt      time.Time
	readyAt        time.Time
	checkFailedAt  time.Time
	executedTwice  bool
	healthWrong    string // what health said, as its interrupt began, of an actor already interrupted
}

const (
	noCheck = iota
	checkPasses
	checkFails
	checkNever // never ready: waits for the shutdown
)

// randomActors draws a group's actors, and its ShutdownTimeout. plain
// says the group has nothing but pairs (no stop or start order, one-shot,
// own Timeout or readiness check) and is to have no logger: the group
// whose first return begins the shutdown on its own goroutine (claim.go).
func randomActors(rng *rand.Rand) (actors []*fuzzActor, shutdownTimeout time.Duration, plain bool) {
	plain = rng.IntN(4) == 0
	n := 1 + rng.IntN(7)
	if rng.IntN(4) == 0 {
		n = 17 + rng.IntN(24) // large stages: the old crews began these one at a time
	}
	// Sometimes every actor has a tiny Timeout, so that timeouts, rather
	// than returns, settle the stages: where interrupts were once lost.
	tinyTimeouts := rng.IntN(5) == 0 && !plain
	// Sometimes no stop order, so that all of a large group is one stage.
	ordered := rng.IntN(3) != 0 && !plain
	actors = make([]*fuzzActor, n)
	selfDelays := rng.Perm(n) // distinct, so the first return is unambiguous
	anyIgnored := false
	for i := range actors {
		a := &fuzzActor{
			name:      fmt.Sprintf("a%d", i),
			interrupt: rng.IntN(3),
			slowFor:   time.Duration(1+rng.IntN(50)) * time.Millisecond,
			failOnInt: rng.IntN(4) == 0,
			oneShot:   rng.IntN(6) == 0 && !plain,
			stop:      make(chan struct{}),
			release:   make(chan struct{}),
		}
		if rng.IntN(2) == 0 {
			a.selfStop = time.Duration(selfDelays[i]+1)*7*time.Millisecond + time.Millisecond
			a.outcome = rng.IntN(3)
		}
		switch {
		case tinyTimeouts:
			a.timeout = time.Duration(1+rng.IntN(100)) * time.Microsecond
		case rng.IntN(3) == 0 && !plain:
			a.timeout = time.Duration(1+rng.IntN(40)) * time.Millisecond
		}
		for j := range i {
			if ordered && rng.IntN(4) == 0 {
				a.after = append(a.after, j)
				a.stage = max(a.stage, actors[j].stage+1)
			}
		}
		anyIgnored = anyIgnored || a.interrupt == ignored
		actors[i] = a
	}
	// Sometimes a start order and readiness checks. An actor starts only
	// after actors of a higher index, which then stop after it: the stages
	// StopAfter gives grow with the index too, so the two agree.
	if rng.IntN(3) == 0 && !plain {
		for i, a := range actors {
			for j := i + 1; j < n; j++ {
				if rng.IntN(3) == 0 {
					a.startAfter = append(a.startAfter, j)
				}
			}
			if rng.IntN(3) == 0 {
				a.check = 1 + rng.IntN(3)
				a.checkAfter = time.Duration(1+rng.IntN(12))*5*time.Millisecond + 2*time.Millisecond
			}
		}
		for i := range n { // stages again, with what StartAfter implies
			actors[i].stage = 0
			for k, b := range actors[:i] {
				if slices.Contains(b.startAfter, i) {
					actors[i].stage = max(actors[i].stage, actors[k].stage+1)
				}
			}
			for _, j := range actors[i].after {
				actors[i].stage = max(actors[i].stage, actors[j].stage+1)
			}
		}
	}
	// Someone must begin the shutdown: the last actor stops on its own.
	last := actors[n-1]
	if last.selfStop == 0 {
		last.selfStop = time.Duration(n+1) * 7 * time.Millisecond
		last.outcome = rng.IntN(3)
	}
	last.oneShot = false
	if anyIgnored || rng.IntN(2) == 0 {
		shutdownTimeout = time.Duration(5+rng.IntN(60)) * time.Millisecond
	}
	return actors, shutdownTimeout, plain
}

func (a *fuzzActor) execute() (err error) {
	defer a.running.Done()
	a.mu.Lock()
	if !a.startedAt.IsZero() {
		a.executedTwice = true
	}
	a.startedAt = time.Now()
	if a.check == noCheck && !a.oneShot {
		a.readyAt = a.startedAt
	}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		if a.oneShot && a.check == noCheck && a.selfReturned && err == nil && a.readyAt.IsZero() {
			a.readyAt = time.Now()
		}
		a.mu.Unlock()
	}()
	defer func() {
		a.mu.Lock()
		a.returnedAt = time.Now()
		a.mu.Unlock()
	}()
	var self <-chan time.Time
	if a.selfStop > 0 {
		self = time.After(a.selfStop)
	}
	stopped := a.stop
	if a.interrupt == ignored {
		stopped = a.release
	}
	select {
	case <-self:
		a.mu.Lock()
		a.selfReturned = true
		a.mu.Unlock()
		switch a.outcome {
		case 1:
			a.err = fmt.Errorf("%s failed", a.name)
			return a.err
		case 2:
			a.err = fmt.Errorf("%s panicked", a.name)
			panic(a.err)
		}
		return nil
	case <-stopped:
		if a.failOnInt {
			a.err = fmt.Errorf("%s failed to stop", a.name)
			return a.err
		}
		return nil
	}
}

func (a *fuzzActor) interruptFunc(error) {
	defer a.running.Done()
	a.calls.Add(1)
	a.checkHealth()
	a.mu.Lock()
	a.interruptAt = time.Now()
	a.calledLate = a.runReturned.Load()
	a.mu.Unlock()
	if a.interrupt == slow {
		time.Sleep(a.slowFor)
	}
	if a.interrupt != ignored {
		a.once.Do(func() { close(a.stop) })
	}
	a.mu.Lock()
	a.interruptEndAt = time.Now()
	a.mu.Unlock()
}

// checkHealth records, as a's interrupt begins, any actor of a's stop
// stage or an earlier one whose execute has begun and that health lists
// as neither stopping nor stopped: that stage's interrupts have begun,
// and no actor starts once they have (healthStatus).
func (a *fuzzActor) checkHealth() {
	states := map[string]string{}
	for _, line := range strings.Split(verboseStates(a.group), "\n") {
		if name, state, ok := strings.Cut(line, ": "); ok {
			states[name] = state
		}
	}
	for _, b := range a.peers {
		if b.stage > a.stage {
			continue
		}
		b.mu.Lock()
		began := !b.startedAt.IsZero()
		b.mu.Unlock()
		if state := states[b.name]; began && state != "stopping" && state != "stopped" {
			a.mu.Lock()
			a.healthWrong = fmt.Sprintf("%s (stage %d) read %q", b.name, b.stage, state)
			a.mu.Unlock()
		}
	}
}

// readinessCheck is the actor's ReadyWhen check.
func (a *fuzzActor) readinessCheck(ctx context.Context) error {
	var after <-chan time.Time
	if a.check != checkNever {
		after = time.After(a.checkAfter)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-after:
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.check == checkFails {
		a.checkFailedAt = time.Now()
		return fmt.Errorf("%s not ready", a.name)
	}
	if a.readyAt.IsZero() {
		a.readyAt = time.Now()
	}
	return nil
}

func checkRandomGroup(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	actors, shutdownTimeout, plain := randomActors(rng)
	g := troupe.Group{ShutdownTimeout: shutdownTimeout}
	// Sometimes a logger: without one, a clean return during the shutdown
	// counts its stage down without telling Run (endedClean), and a plain
	// group's first return begins the shutdown itself (claim.go); the
	// group must behave alike either way.
	if rng.IntN(3) == 0 && !plain {
		g.Logger = slog.New(slog.DiscardHandler)
	}
	// Sometimes a plain group's actors have no names: then no actor has
	// settings of its own, and Run skips the walks that read them
	// (Group.owners).
	unnamed := plain && rng.IntN(2) == 0
	var wg sync.WaitGroup
	var runReturned atomic.Bool
	for i, a := range actors {
		a.running = &wg
		a.runReturned = &runReturned
		a.group, a.peers = &g, actors
		wg.Add(2) // its execute and its single interrupt
		h := g.Add(a.execute, a.interruptFunc)
		if unnamed {
			a.name = fmt.Sprintf("actor-%d", i+1)
		} else {
			h.Name(a.name)
		}
		for _, j := range a.after {
			h.StopAfter(actors[j].name)
		}
		if a.oneShot {
			h.OneShot()
		}
		if a.timeout > 0 {
			h.Timeout(a.timeout)
		}
		for _, j := range a.startAfter {
			h.StartAfter(actors[j].name)
		}
		if a.check != noCheck {
			h.ReadyWhen(a.readinessCheck)
		}
	}

	start := time.Now()
	err := g.Run()
	runReturned.Store(true)
	end := time.Now()
	t.Logf("seed %d: %d actors, ShutdownTimeout %v, Run took %v: %v", seed, len(actors), shutdownTimeout, end.Sub(start), err)
	for _, a := range actors {
		t.Logf("  %s: self %v outcome %d oneShot %v interrupt %d check %d after %v; startAfter %v; stage %d", a.name, a.selfStop, a.outcome, a.oneShot, a.interrupt, a.check, a.checkAfter, a.startAfter, a.stage)
	}

	// Let the stragglers go, and wait until every execute and interrupt has
	// finished: synctest.Test fails if any goroutine is left behind.
	for _, a := range actors {
		close(a.release)
	}
	synctest.Wait()
	for _, a := range actors {
		if a.startedAt.IsZero() {
			a.running.Done() // an execute that never ran, and never will
		}
	}
	wg.Wait()
	synctest.Wait()
	checkStartOrder(t, actors, firstTrigger(actors), err)

	shutdownAt := firstTrigger(actors)
	if shutdownTimeout > 0 && end.Sub(shutdownAt) > shutdownTimeout {
		t.Errorf("Run returned %v after the shutdown began, past ShutdownTimeout %v", end.Sub(shutdownAt), shutdownTimeout)
	}
	named := stragglersIn(err)
	groupDeadlinePassed := shutdownTimeout > 0 && !end.Before(shutdownAt.Add(shutdownTimeout))
	for _, a := range actors {
		if want, have := int32(1), a.calls.Load(); want != have {
			t.Errorf("%s: interrupt calls: want %d, have %d", a.name, want, have)
		}
		// Only at the group's deadline may Run return before calling an
		// interrupt; otherwise it waited for each, or for its own Timeout,
		// which counts from the call.
		if a.calledLate && !groupDeadlinePassed {
			t.Errorf("%s: interrupt called after Run returned, though the group's deadline did not pass", a.name)
		}
		// An interrupt that Run only called as it gave up at the deadline is
		// not waited for, and does not make a returned actor a straggler.
		finished := a.returnedAt
		if a.interruptAt.Before(end) && a.interruptEndAt.After(finished) {
			finished = a.interruptEndAt
		}
		isNamed := slices.Contains(named, a.name)
		// An interrupt begun at the very instant the deadline passed may
		// or may not have begun when Run looked: either answer is right.
		beganAtTheDeadline := a.interruptAt.Equal(end) && a.interruptEndAt.After(end)
		if isNamed && finished.Before(end) && !beganAtTheDeadline {
			t.Errorf("%s named a straggler but it finished at %v, before Run returned at %v", a.name, finished.Sub(start), end.Sub(start))
		}
		if !isNamed && finished.After(end) {
			t.Errorf("%s still running when Run returned, but not named", a.name)
		}
		if a.err != nil && a.returnedAt.Before(end) && !errors.Is(err, a.err) {
			t.Errorf("%s failed with %v, missing from Run's error", a.name, a.err)
		}
		checkStageOrder(t, a, actors, shutdownAt, shutdownTimeout)
		if a.healthWrong != "" {
			t.Errorf("as %s's interrupt began, health listed %s", a.name, a.healthWrong)
		}
	}
	if len(named) == 0 && errors.Is(err, troupe.ErrShutdownTimeout) {
		t.Errorf("a TimeoutError that names nobody: %v", err)
	}
}

// firstTrigger is when the shutdown began: the earliest own return of an
// actor that stops the group or failure of a readiness check, or the last
// one-shot return if all were.
func firstTrigger(actors []*fuzzActor) time.Time {
	var first, lastOneShot time.Time
	for _, a := range actors {
		if !a.checkFailedAt.IsZero() && (first.IsZero() || a.checkFailedAt.Before(first)) {
			first = a.checkFailedAt
		}
		if !a.selfReturned {
			continue
		}
		if a.oneShot && a.err == nil {
			if a.returnedAt.After(lastOneShot) {
				lastOneShot = a.returnedAt
			}
			continue
		}
		if first.IsZero() || a.returnedAt.Before(first) {
			first = a.returnedAt
		}
	}
	if first.IsZero() {
		return lastOneShot
	}
	return first
}

// checkStageOrder: an actor is interrupted only once every actor of every
// earlier stage has finished or passed its own timeout, unless the whole
// shutdown's deadline had passed.
func checkStageOrder(t *testing.T, a *fuzzActor, actors []*fuzzActor, shutdownAt time.Time, shutdownTimeout time.Duration) {
	if shutdownTimeout > 0 && !a.interruptAt.Before(shutdownAt.Add(shutdownTimeout)) {
		return
	}
	for _, b := range actors {
		if b.stage >= a.stage {
			continue
		}
		finished := b.returnedAt
		if b.interruptEndAt.After(finished) {
			finished = b.interruptEndAt
		}
		ownDeadlinePassed := b.timeout > 0 && !b.interruptAt.Add(b.timeout).After(a.interruptAt)
		if finished.After(a.interruptAt) && !ownDeadlinePassed {
			t.Errorf("%s (stage %d) interrupted before %s (stage %d) finished", a.name, a.stage, b.name, b.stage)
		}
	}
}

func stragglersIn(err error) []string {
	var te *troupe.TimeoutError
	if errors.As(err, &te) {
		return te.Stragglers
	}
	return nil
}

// checkStartOrder: every started actor started only once what it starts
// after was ready; an actor never started is listed as such, and waited
// for something that was not ready when the shutdown began.
func checkStartOrder(t *testing.T, actors []*fuzzActor, shutdownAt time.Time, err error) {
	var ns *troupe.NotStartedError
	var listed []string
	if errors.As(err, &ns) {
		listed = ns.Actors
	}
	for _, a := range actors {
		if a.executedTwice {
			t.Errorf("%s: execute called twice", a.name)
		}
		started := !a.startedAt.IsZero()
		if started == slices.Contains(listed, a.name) {
			t.Errorf("%s: started %v, but listed as never started %v", a.name, started, listed)
		}
		blocked := false
		for _, j := range a.startAfter {
			d := actors[j]
			if started && (d.readyAt.IsZero() || d.readyAt.After(a.startedAt)) {
				t.Errorf("%s started at %v, before %s was ready (%v)", a.name, a.startedAt, d.name, d.readyAt)
			}
			blocked = blocked || d.readyAt.IsZero() || !d.readyAt.Before(shutdownAt)
		}
		if !started && !blocked {
			t.Errorf("%s never started, though all it starts after was ready before the shutdown at %v", a.name, shutdownAt)
		}
	}
}
