package troupe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// ErrNoRestart is matched by errors.Is on an attempt's error that must not
// be restarted: wrap it, as in fmt.Errorf("bad credentials: %w",
// troupe.ErrNoRestart), and [Restart] returns that error at once.
var ErrNoRestart = errors.New("troupe: do not restart")

// RestartOption configures [Restart] and [Group.Restart].
type RestartOption interface{ applyRestart(*restartOptions) }

type restartOptions struct {
	min, max    time.Duration
	factor      float64
	jitter      float64
	healthy     time.Duration
	maxAttempts int
	onNil       bool
}

type restartOptionFunc func(*restartOptions)

func (f restartOptionFunc) applyRestart(o *restartOptions) { f(o) }

// The defaults: a first wait of 100ms, doubling up to 30s, ±20% of it at
// random, a fresh start after a minute of healthy running, and no cap.
const (
	defaultBackoffMin    = 100 * time.Millisecond
	defaultBackoffMax    = 30 * time.Second
	defaultBackoffFactor = 2
	defaultBackoffJitter = 0.2
	defaultHealthyAfter  = time.Minute
)

// Backoff sets the wait before a restart: min after the first failure,
// multiplied by factor after each further one, and never more than max
// (before jitter). The defaults are 100ms, 30s and 2. It panics unless
// 0 < min ≤ max and factor ≥ 1.
func Backoff(min, max time.Duration, factor float64) RestartOption {
	if min <= 0 || max < min || !(factor >= 1) {
		panic(fmt.Sprintf("troupe: Backoff: want 0 < min ≤ max and factor ≥ 1, not %v, %v, %v", min, max, factor))
	}
	return restartOptionFunc(func(o *restartOptions) { o.min, o.max, o.factor = min, max, factor })
}

// BackoffJitter makes each wait up to fraction longer or shorter, at
// random, so that many processes that failed together do not all retry
// together. The default is 0.2; 0 turns it off. It panics unless
// 0 ≤ fraction ≤ 1.
func BackoffJitter(fraction float64) RestartOption {
	if !(fraction >= 0 && fraction <= 1) {
		panic(fmt.Sprintf("troupe: BackoffJitter: fraction %v not in [0, 1]", fraction))
	}
	return restartOptionFunc(func(o *restartOptions) { o.jitter = fraction })
}

// HealthyAfter is how long an attempt must run for the next failure to be
// counted as the first again: a long healthy run earns a fresh start, with
// the shortest wait and a full [MaxAttempts]. The default is a minute. It
// panics if d is not positive.
func HealthyAfter(d time.Duration) RestartOption {
	if d <= 0 {
		panic(fmt.Sprintf("troupe: HealthyAfter: non-positive duration %v", d))
	}
	return restartOptionFunc(func(o *restartOptions) { o.healthy = d })
}

// MaxAttempts caps the attempts made in a row without a healthy run: when
// the nth fails, Restart returns its error. The default is no cap. It
// panics if n is less than 1.
func MaxAttempts(n int) RestartOption {
	if n < 1 {
		panic(fmt.Sprintf("troupe: MaxAttempts: %d is less than 1", n))
	}
	return restartOptionFunc(func(o *restartOptions) { o.maxAttempts = n })
}

// RestartOnNil restarts an attempt that returned nil too. By default a nil
// return ends Restart with nil, as a clean return of any actor does.
func RestartOnNil() RestartOption {
	return restartOptionFunc(func(o *restartOptions) { o.onNil = true })
}

// Restart returns an actor that runs the pair factory makes, and, when it
// fails, waits and runs a fresh one: a queue consumer, or a connection to
// an upstream that drops now and then, should come back rather than take
// the whole process down. Each attempt gets a new pair, because a stopped
// actor cannot in general be run again.
//
// Between attempts Restart waits with an exponential [Backoff], varied by
// [BackoffJitter]; an attempt that ran for [HealthyAfter] resets the wait
// and the count of attempts. It stops restarting and returns the error
// when an attempt's error matches [ErrNoRestart], when [MaxAttempts] is
// reached, or when factory returns a nil function; an attempt that returns
// nil ends it with nil, unless [RestartOnNil]. A panic in an attempt is a
// failed attempt, whose [*PanicError] has the stack.
//
// Interrupted during a wait, execute returns nil at once; during an
// attempt, Restart calls that attempt's interrupt and returns what the
// attempt returns. Every attempt's interrupt is called exactly once: then,
// or once the attempt has returned on its own. The factory, each
// attempt's execute and an interrupt called once the attempt has returned
// each run on a goroutine of their own, so that an attempt that leaves its
// goroutine locked to a thread it changed leaves nothing that follows
// there; a runtime.Goexit in an attempt is a failed attempt, as a panic
// is. The pair works in a plain
// run.Group too, and is silent; [Group.Restart] logs each restart. Restart
// panics if factory is nil.
func Restart(factory func() (execute func() error, interrupt func(error)), opts ...RestartOption) (execute func() error, interrupt func(error)) {
	if factory == nil {
		panic("troupe: Restart: nil factory")
	}
	r := newRestarter(factory, opts)
	return r.execute, r.interrupt
}

// Restart adds an actor that restarts the pairs factory makes, as
// [Restart] does, and logs each restart through the group's Logger: the
// actor, the attempt, its error and the wait before the next. A nil
// factory makes Run return [ErrInvalid].
func (g *Group) Restart(factory func() (execute func() error, interrupt func(error)), opts ...RestartOption) *Actor {
	if factory == nil {
		a := g.Add(nil, nil)
		a.set(func() { a.own().nilFunc = "factory" })
		return a
	}
	r := newRestarter(factory, opts)
	a := g.Add(r.execute, r.interrupt)
	join := func(j joining) { r.logger, r.name = j.logger, j.name }
	a.set(func() { a.own().join = join })
	return a
}

type restarter struct {
	factory func() (func() error, func(error))
	opts    restartOptions
	logger  *slog.Logger // set before execute starts, with name, if any
	name    string

	stop    chan struct{} // closed by the interrupt
	mu      sync.Mutex
	stopped bool
	cause   error
	current func(error) // the running attempt's interrupt, until someone calls it
}

func newRestarter(factory func() (func() error, func(error)), opts []RestartOption) *restarter {
	o := restartOptions{
		min: defaultBackoffMin, max: defaultBackoffMax, factor: defaultBackoffFactor,
		jitter: defaultBackoffJitter, healthy: defaultHealthyAfter,
	}
	for _, opt := range opts {
		opt.applyRestart(&o)
	}
	return &restarter{factory: factory, opts: o, stop: make(chan struct{})}
}

func (r *restarter) interrupt(cause error) {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.stopped, r.cause = true, cause
	current := r.current
	r.current = nil // called here, so not again when the attempt ends
	r.mu.Unlock()
	close(r.stop)
	if current != nil {
		current(cause)
	}
}

func (r *restarter) execute() error {
	inARow := 0 // attempts since the last healthy one
	for attempt := 1; ; attempt++ {
		var execute func() error
		var interrupt func(error)
		if err := onOwnGoroutine(func() error { execute, interrupt = r.factory(); return nil }, errCalledGoexit); err != nil {
			return fmt.Errorf("troupe: restart attempt %d: the factory failed: %w", attempt, err)
		}
		if execute == nil || interrupt == nil {
			var released error
			if interrupt != nil {
				released = callOwnInterrupt(interrupt, ErrInvalid) // what the pair holds is released
			}
			return join(fmt.Errorf("troupe: restart attempt %d: the factory returned a nil %s", attempt, nilOf(execute, interrupt)), released)
		}
		r.mu.Lock()
		if r.stopped {
			cause := r.cause
			r.mu.Unlock()
			// Its execute never runs, but what it holds is released.
			return callOwnInterrupt(interrupt, cause)
		}
		r.current = interrupt
		r.mu.Unlock()

		began := time.Now()
		err := onOwnGoroutine(execute, errGoexit)
		healthy := time.Since(began) >= r.opts.healthy

		r.mu.Lock()
		current, stopped := r.current, r.stopped
		r.current = nil
		r.mu.Unlock()
		if current != nil {
			if ierr := callOwnInterrupt(current, endedCause(err)); ierr != nil {
				err = errors.Join(err, ierr)
			}
		}
		if stopped {
			return err // interrupted during the attempt: its return is the group's to judge
		}
		switch {
		case errors.Is(err, ErrNoRestart):
			return err
		case err == nil && !r.opts.onNil:
			return nil
		}
		if healthy {
			inARow = 0
		}
		inARow++
		if r.opts.maxAttempts > 0 && inARow >= r.opts.maxAttempts {
			if err == nil {
				return nil
			}
			return fmt.Errorf("troupe: restart: gave up after %d attempts in a row: %w", inARow, err)
		}
		select {
		case <-r.stop:
			return nil // interrupted as the attempt ended: no restart to speak of
		default:
		}
		wait := r.backoff(inARow)
		r.logRestart(attempt, err, wait)
		timer := time.NewTimer(wait)
		select {
		case <-r.stop:
			timer.Stop()
			return nil
		case <-timer.C:
		}
	}
}

// onOwnGoroutine calls fn on a goroutine of its own and waits for it. fn
// is the user's: the factory, an attempt's execute or its interrupt, which
// may lock its goroutine to a thread it changes and return, or call
// runtime.Goexit, and neither may reach the attempts that follow on
// Restart's goroutine. It gives fn's error, a *PanicError for its panic,
// also one that followed a Goexit, or goexit for a Goexit.
func onOwnGoroutine(fn func() error, goexit error) error {
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done) // also after a Goexit
		guarded(&err, goexit, fn)
	}()
	<-done
	return err
}

// callOwnInterrupt calls an attempt's interrupt with cause, on a goroutine
// of its own (see onOwnGoroutine).
func callOwnInterrupt(interrupt func(error), cause error) error {
	return onOwnGoroutine(func() error { interrupt(cause); return nil }, errInterruptGoexit)
}

// backoff is the wait after the nth attempt in a row.
func (r *restarter) backoff(n int) time.Duration {
	wait := float64(r.opts.min) * math.Pow(r.opts.factor, float64(n-1))
	wait = min(wait, float64(r.opts.max))
	if r.opts.jitter > 0 {
		wait *= 1 + r.opts.jitter*(2*rand.Float64()-1)
	}
	// A max near the largest Duration, jittered up, would overflow into a
	// negative wait: no wait at all.
	if wait >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(wait)
}

func (r *restarter) logRestart(attempt int, err error, wait time.Duration) {
	if r.logger == nil {
		return
	}
	r.logger.LogAttrs(context.Background(), slog.LevelWarn, "attempt ended; restarting",
		slog.String("actor", r.name), slog.Int("attempt", attempt), slog.Any("error", err), slog.Duration("wait", wait))
}

// endedCause is what an attempt's interrupt is given once the attempt
// has returned on its own.
func endedCause(err error) error {
	if err == nil {
		return ErrReturned
	}
	return err
}
