package troupe

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// pathActor is an actor of TestBothPathsAgree's groups.
type pathActor struct {
	returnAt time.Duration // when it returns on its own; below 0, it waits for its interrupt
	outcome  int           // what it does then: 0 returns nil, 1 an error, 2 panics, 3 calls Goexit
	afterInt int           // once interrupted: 0 returns nil, 1 an error, 2 the cause
	intMode  int           // its interrupt: 0 quick, 1 slow, 2 panics, 3 calls Goexit, 4 outlasts any deadline
	slow     time.Duration
}

// pathOutcome is what a group's Run shows, in a form two runs compare by.
type pathOutcome struct {
	runErr          string   // Run's error: the cause first, the rest sorted
	causes          []string // each interrupt's causes
	status          string   // readiness's cause
	stateAfterAStop string   // Starting or Ready, if State read so as Stop returned
}

var goroutineNum = regexp.MustCompile(`goroutine \d+`)

// norm drops the stacks of panics from an error's text.
func norm(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "goroutine") || strings.HasPrefix(line, "created by") ||
			(strings.Contains(line, "(") && !strings.HasPrefix(line, "troupe")) {
			continue
		}
		b.WriteString(line + "\n")
	}
	return goroutineNum.ReplaceAllString(b.String(), "goroutine N")
}

// runPaths runs one group of actors, stopped at stopAt unless that is
// below 0, in a synctest bubble.
func runPaths(actors []pathActor, stopAt, timeout time.Duration, logged bool) (o pathOutcome) {
	var g Group
	g.ShutdownTimeout = timeout
	if logged {
		g.Logger = slog.New(slog.DiscardHandler)
	}
	var mu sync.Mutex
	causes := map[string][]string{}
	for i, da := range actors {
		name := fmt.Sprintf("a%d", i)
		stop := make(chan error, 1)
		g.Add(func() error {
			var cause error
			if da.returnAt >= 0 {
				select {
				case <-time.After(da.returnAt):
					switch da.outcome {
					case 1:
						return errors.New(name + " failed")
					case 2:
						panic(name + " panicked")
					case 3:
						runtime.Goexit()
					}
					return nil
				case cause = <-stop:
				}
			} else {
				cause = <-stop
			}
			switch da.afterInt {
			case 1:
				return errors.New(name + " failed late")
			case 2:
				return cause
			}
			return nil
		}, func(cause error) {
			mu.Lock()
			causes[name] = append(causes[name], norm(fmt.Sprint(cause)))
			mu.Unlock()
			switch da.intMode {
			case 1:
				time.Sleep(da.slow)
			case 2:
				stop <- cause
				panic(name + " interrupt panicked")
			case 3:
				stop <- cause
				runtime.Goexit()
			case 4:
				time.Sleep(time.Hour)
			}
			stop <- cause
		}).Name(name)
	}
	ran := make(chan error, 1)
	go func() { ran <- g.Run() }()
	if stopAt >= 0 {
		time.Sleep(stopAt)
		g.Stop()
		if s := g.State(); s == Ready || s == Starting {
			o.stateAfterAStop = s.String()
		}
	}
	err := <-ran
	if err != nil {
		// The first error is the cause; the order of the rest is a race at one instant.
		var parts []string
		for _, l := range strings.Split(norm(err.Error()), "\n") {
			if l != "" {
				parts = append(parts, l)
			}
		}
		if strings.Contains(g.status.stopCause().Error(), "actor returned") {
			sort.Strings(parts) // a clean cause is not in the error: every line is a later one
		} else {
			sort.Strings(parts[1:])
		}
		o.runErr = strings.Join(parts, " / ")
	}
	if c := g.status.stopCause(); c != nil {
		o.status = norm(c.Error())
	}
	time.Sleep(2 * time.Hour) // let stragglers end
	mu.Lock()
	defer mu.Unlock()
	var names []string
	for n := range causes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		o.causes = append(o.causes, n+"="+strings.Join(causes[n], "|"))
	}
	return o
}

// A plain group's first return begins the shutdown itself (claim.go);
// the same group with a logger, which turns claims off, goes through the
// runner's events. Both must show the same outcome: Run's error, every
// interrupt's cause and calls, readiness's cause, and the state as Stop
// returns. synctest's clock keeps the returns, the stop and the deadline
// from falling at one instant, where either order would be right. A
// review ran 30 000 seeds; the suite runs 2000.
func TestBothPathsAgree(t *testing.T) {
	for seed := range uint64(2000) {
		rng := rand.New(rand.NewPCG(seed, 77))
		n := 1 + rng.IntN(5)
		times := rng.Perm(20)
		actors := make([]pathActor, n)
		for i := range actors {
			a := &actors[i]
			a.returnAt = -1
			if rng.IntN(2) == 0 {
				a.returnAt = time.Duration(times[i]) * time.Millisecond
			}
			a.outcome = rng.IntN(4)
			a.afterInt = rng.IntN(3)
			a.intMode = rng.IntN(5)
			if rng.IntN(2) == 0 {
				a.intMode = 0
			}
			a.slow = time.Duration(1+rng.IntN(30)) * time.Millisecond
		}
		stopAt := time.Duration(-1)
		if rng.IntN(2) == 0 {
			stopAt = time.Duration(times[19])*time.Millisecond + 250*time.Microsecond
		}
		hasUnbounded := false
		for _, a := range actors {
			if a.intMode == 4 {
				hasUnbounded = true
			}
		}
		var timeout time.Duration
		if hasUnbounded || rng.IntN(2) == 0 {
			timeout = time.Duration(1+rng.IntN(40))*time.Millisecond + 500*time.Microsecond // no ties with the ends
		}
		if stopAt < 0 {
			returns := false
			for _, a := range actors {
				returns = returns || a.returnAt >= 0
			}
			if !returns {
				stopAt = 5 * time.Millisecond
			}
		}
		var plain, logged pathOutcome
		synctest.Test(t, func(*testing.T) { plain = runPaths(actors, stopAt, timeout, false) })
		synctest.Test(t, func(*testing.T) { logged = runPaths(actors, stopAt, timeout, true) })
		if fmt.Sprint(plain) != fmt.Sprint(logged) {
			t.Errorf("seed %d: actors %+v stop %v timeout %v\nplain:  %q\nlogged: %q", seed, actors, stopAt, timeout, plain, logged)
		}
	}
}
