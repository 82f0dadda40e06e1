package troupe

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
)

// logger writes the group's lifecycle events to an optional *slog.Logger.
// Every method is a no-op on a nil logger, so a silent group pays one
// comparison per event. prefix composes the names of a nested group's
// actors with its own: "workers/consumer-3".
type logger struct {
	l      *slog.Logger
	prefix string
	since  time.Time // the Run's start, when it logs
}

func (lg logger) actor(name string) slog.Attr { return slog.String("actor", lg.prefix+name) }

// group names a nested group in its group-wide events, so that those of
// several levels in one log can be told apart.
func (lg logger) group(attrs ...slog.Attr) []slog.Attr {
	if lg.prefix == "" {
		return attrs
	}
	return append(attrs, slog.String("group", strings.TrimSuffix(lg.prefix, "/")))
}

func (lg logger) emit(level slog.Level, msg string, attrs ...slog.Attr) {
	if lg.l == nil {
		return
	}
	lg.l.LogAttrs(context.Background(), level, msg, attrs...)
}

func (lg logger) started(a *Actor) {
	if lg.l == nil {
		return
	}
	lg.emit(slog.LevelInfo, "actor started", lg.actor(a.displayName()))
}

func (lg logger) returned(a *Actor, startedAt time.Duration, err error, failure bool) {
	if lg.l == nil {
		return
	}
	attrs := []slog.Attr{
		lg.actor(a.displayName()),
		slog.Duration("duration", time.Since(lg.since)-startedAt),
	}
	level := slog.LevelInfo
	if err != nil {
		attrs = append(attrs, slog.Any("error", err))
		// A signal that stops the group is a request, not a failure.
		if failure && !errors.Is(err, ErrStopRequested) {
			level = slog.LevelError
		}
	}
	lg.emit(level, "actor returned", attrs...)
}

func (lg logger) groupReady() {
	if lg.l == nil {
		return
	}
	lg.emit(slog.LevelInfo, "group ready", lg.group()...)
}

func (lg logger) stopDelay(d time.Duration) {
	if lg.l == nil {
		return
	}
	lg.emit(slog.LevelInfo, "stop delay begun: not ready, still serving", lg.group(slog.Duration("delay", d))...)
}

func (lg logger) delayCut(failure *ActorError) {
	if lg.l == nil {
		return
	}
	lg.emit(slog.LevelWarn, "stop delay cut short by a failure", lg.actor(failure.Actor))
}

// shutdownBegun names the actor whose return began the shutdown; by is
// empty when the group was asked to stop from outside. notStarted names
// the actors that will never start.
func (lg logger) shutdownBegun(by string, cause error, notStarted []string) {
	if lg.l == nil {
		return
	}
	if notStarted != nil {
		lg.emit(slog.LevelWarn, "actors never started", lg.group(slog.Any("actors", notStarted))...)
	}
	if by == "" {
		by = "the enclosing group"
		if errors.Is(cause, errStopCalled) {
			by = "Group.Stop"
		}
		lg.emit(slog.LevelInfo, "shutdown begun", lg.group(slog.String("by", by), slog.Any("cause", cause))...)
		return
	}
	var ae *ActorError
	if errors.As(cause, &ae) {
		cause = ae.Err
	}
	lg.emit(slog.LevelInfo, "shutdown begun", lg.group(lg.actor(by), slog.Any("cause", cause))...)
}

func (lg logger) stageDone(stage, stages int, shutdownAt time.Time) {
	if lg.l == nil {
		return
	}
	lg.emit(slog.LevelInfo, "stop stage done", lg.group(slog.Int("stage", stage+1), slog.Int("stages", stages), slog.Duration("elapsed", time.Since(shutdownAt)))...)
}

func (lg logger) actorDeadline(a *Actor) {
	if lg.l == nil {
		return
	}
	lg.emit(slog.LevelWarn, "actor timeout passed; later stages go ahead without it",
		lg.actor(a.displayName()), slog.Duration("timeout", a.ownTimeout()))
}

func (lg logger) interruptFailed(err *ActorError) {
	lg.emit(slog.LevelError, "interrupt failed", lg.actor(err.Actor), slog.Any("error", err.Err))
}

func (lg logger) stopped(shutdownAt time.Time, stragglers []string) {
	if lg.l == nil {
		return
	}
	elapsed := time.Since(shutdownAt)
	for _, name := range stragglers {
		lg.emit(slog.LevelError, "actor still running at shutdown deadline", lg.actor(name))
	}
	lg.emit(slog.LevelInfo, "group stopped", lg.group(slog.Duration("shutdown", elapsed), slog.Int("stragglers", len(stragglers)))...)
}
