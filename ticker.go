package troupe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// TickerOption configures [Ticker].
type TickerOption interface{ applyTicker(*tickerOptions) }

type tickerOptions struct {
	atStart  bool
	jitter   time.Duration
	keepOn   bool
	errorLog *slog.Logger
}

type tickerOptionFunc func(*tickerOptions)

func (f tickerOptionFunc) applyTicker(o *tickerOptions) { f(o) }

// RunAtStart makes [Ticker] run fn once as soon as it starts (after a
// [Jitter] delay, if one is set), rather than first after one interval.
func RunAtStart() TickerOption {
	return tickerOptionFunc(func(o *tickerOptions) { o.atStart = true })
}

// Jitter delays each run, the one at start included, by a random duration
// in [0, max), so that many processes started together do not all run at
// once. It panics if max is negative.
func Jitter(max time.Duration) TickerOption {
	if max < 0 {
		panic(fmt.Sprintf("troupe: Jitter: negative duration %v", max))
	}
	return tickerOptionFunc(func(o *tickerOptions) { o.jitter = max })
}

// ContinueOnError makes [Ticker] log a run's error to logger and go on to
// the next tick, instead of returning it and so stopping the group. A nil
// logger drops the errors. Give it a logger that names the actor, such as
// g.Logger.With("actor", "usage").
func ContinueOnError(logger *slog.Logger) TickerOption {
	return tickerOptionFunc(func(o *tickerOptions) { o.keepOn, o.errorLog = true, logger })
}

// Ticker returns an actor that calls fn every interval. Runs never overlap:
// a run that takes longer than the interval makes the ticks it covered be
// skipped, not queued, and the next run comes at the next tick after it.
//
// By default a run's error is execute's error, which stops the group;
// [ContinueOnError] logs it and goes on. The interrupt stops the
// scheduling and cancels the running fn's context with the shutdown's
// cause; execute returns once that run has returned. A context error that
// echoes the interruption is not an error. Ticker panics if interval is
// not positive or fn is nil, as [time.NewTicker] does.
func Ticker(interval time.Duration, fn func(ctx context.Context) error, opts ...TickerOption) (execute func() error, interrupt func(error)) {
	if interval <= 0 {
		panic(fmt.Sprintf("troupe: Ticker: non-positive interval %v", interval))
	}
	if fn == nil {
		panic("troupe: Ticker: nil function")
	}
	t := &tickerActor{interval: interval, fn: fn}
	for _, opt := range opts {
		opt.applyTicker(&t.opts)
	}
	t.ctx, t.cancel = context.WithCancelCause(context.Background())
	return t.execute, t.cancel
}

type tickerActor struct {
	interval time.Duration
	fn       func(context.Context) error
	opts     tickerOptions
	ctx      context.Context
	cancel   context.CancelCauseFunc
}

func (t *tickerActor) execute() error {
	start := time.Now()
	delay := time.Duration(0) // the current run's jitter
	if t.opts.atStart {
		delay = t.jitter()
		if !t.sleep(delay) {
			return nil
		}
		if err := t.run(); err != nil {
			return err
		}
	}
	wait, next := t.untilNextTick(start, delay)
	delay = next
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return nil
		case <-timer.C:
			if err := t.run(); err != nil {
				return err
			}
			wait, delay = t.untilNextTick(start, delay)
			timer.Reset(wait)
		}
	}
}

// untilNextTick gives the wait until the next run, and that run's jitter.
// The next tick is the first, counted from start, after the moment the
// last run would have ended had it not been delayed by its jitter: a run
// that takes longer than the interval skips the ticks it covered, and
// jitter alone never makes one skipped. A jittered tick already past runs
// at once.
func (t *tickerActor) untilNextTick(start time.Time, lastJitter time.Duration) (wait, jitter time.Duration) {
	now := time.Now()
	ticks := now.Add(-lastJitter).Sub(start)/t.interval + 1
	jitter = t.jitter()
	return max(0, start.Add(ticks*t.interval+jitter).Sub(now)), jitter
}

func (t *tickerActor) jitter() time.Duration {
	if t.opts.jitter <= 0 {
		return 0
	}
	return rand.N(t.opts.jitter)
}

// sleep waits for d, and reports false if the ticker was interrupted first.
func (t *tickerActor) sleep(d time.Duration) bool {
	if d <= 0 {
		return t.ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// run calls fn once; a non-nil result stops the ticker.
func (t *tickerActor) run() error {
	if t.ctx.Err() != nil {
		return nil
	}
	err := t.fn(t.ctx)
	switch {
	case err == nil:
		return nil
	case t.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.Cause(t.ctx))):
		return nil
	case t.opts.keepOn:
		if t.opts.errorLog != nil {
			t.opts.errorLog.LogAttrs(context.Background(), slog.LevelError, "ticker run failed; continuing", slog.Any("error", err))
		}
		return nil
	}
	return err
}
