package troupe

import (
	"sync"
	"time"
)

// releaseUnstarted ends a Run that starts nothing, because plan refused
// the group or because the enclosing group stopped it first: no execute is
// called, but every interrupt is, once and concurrently, with cause; a
// nested group's interrupt stops it, and then it releases its own actors. The
// contract calls every interrupt exactly once, and pairs may hold something
// from the moment they were made: Signals has caught its signals, and a
// server has its Listener. Run waits for the interrupts as it would in a
// shutdown, up to a valid ShutdownTimeout. It gives the interrupts'
// failures, and the stragglers if that passed.
func releaseUnstarted(actors *actorList, cause error, shutdownTimeout time.Duration) []error {
	var mu sync.Mutex
	var errs []error
	// running is true from an interrupt's start to its end: only those
	// are stragglers, as in a shutdown.
	running := make([]bool, actors.len())
	for a := range actors.all() {
		a.setStatus(actorNeverStarted) // for health, before Run returns
	}
	var wg sync.WaitGroup
	for a := range actors.all() {
		i := a.index
		if a.interrupt == nil {
			continue
		}
		wg.Go(func() {
			mu.Lock()
			running[i] = true
			mu.Unlock()
			defer func() { // deferred: an interrupt that calls runtime.Goexit has ended too
				mu.Lock()
				running[i] = false
				mu.Unlock()
			}()
			report := func(err *ActorError) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			callInterrupt(a, cause, report)
			if sp := a.settings(); sp.release != nil {
				// A nested group that will never run: it must still
				// release its own actors, at every depth.
				if err := sp.release(); err != nil {
					report(&ActorError{Actor: a.displayName(), Err: err})
				}
			}
		})
	}
	all := make(chan struct{})
	go func() {
		wg.Wait()
		close(all)
	}()
	var deadline <-chan time.Time
	if shutdownTimeout > 0 {
		t := time.NewTimer(shutdownTimeout)
		defer t.Stop()
		deadline = t.C
	}
	select {
	case <-all:
	case <-deadline:
	}
	mu.Lock()
	defer mu.Unlock()
	var stragglers []string
	for a := range actors.all() {
		if running[a.index] {
			stragglers = append(stragglers, a.displayName())
		}
	}
	if stragglers != nil {
		errs = append(errs, &TimeoutError{Stragglers: stragglers, ShutdownTimeout: shutdownTimeout})
	}
	return errs
}
