package troupe

import (
	"fmt"
	"net/http"
	"strings"
)

// HealthHandler returns an http.Handler that answers Kubernetes's probes,
// and load balancers', about g: a path that ends in /livez or /readyz (so
// it can be mounted on any mux, the service's own or an admin port's),
// and 404 for any other.
//
// /readyz answers 200 once every actor is ready, and 503 before that
// (naming the actors not ready) and from the very moment the shutdown
// begins (giving its cause), before any [Group.StopDelay]. /livez answers
// 200 until Run returns, and 503 after. Every answer carries the group's
// state in a Troupe-State header ("starting", "ready", "stopping",
// "stopped"), which marks a stop apart from a start, and is never cached.
// With ?verbose, the body also lists each actor and its state: waiting,
// starting, ready, stopping, stopped or never started.
//
// The handler may be made and mounted before Run. Readiness cannot fail
// once reached, short of the shutdown: an actor that loses what it needs
// should return an error, or be run by [Restart].
func (g *Group) HealthHandler() http.Handler { return &health{g: g} }

type health struct{ g *Group }

func (h *health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	state := h.g.State()
	var ok bool
	var summary string
	switch {
	case strings.HasSuffix(r.URL.Path, "/readyz"):
		ok, summary = h.readiness(state)
	case strings.HasSuffix(r.URL.Path, "/livez"):
		ok, summary = state != Stopped, state.String()
		if ok {
			summary = "alive"
		}
	default:
		http.NotFound(w, r)
		return
	}
	header := w.Header()
	header.Set("Content-Type", "text/plain; charset=utf-8")
	header.Set("Cache-Control", "no-store")
	header.Set("Troupe-State", state.String())
	if ok {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, summary)
	if _, verbose := r.URL.Query()["verbose"]; verbose {
		for _, a := range h.g.actorStates() {
			fmt.Fprintf(w, "%s: %s\n", a.name, actorStateName(a.status))
		}
	}
}

// readiness says whether the group is ready, and why not.
func (h *health) readiness(state State) (bool, string) {
	switch state {
	case Ready:
		return true, "ready"
	case Starting:
		return false, "starting; not ready: " + strings.Join(h.g.NotReady(), ", ")
	case Stopping:
		cause := "stop requested"
		if err := h.g.status.stopCause(); err != nil {
			// A panic's cause carries its stack: the first line says it.
			cause, _, _ = strings.Cut(err.Error(), "\n")
		}
		return false, "stopping: " + cause
	}
	return false, state.String()
}
