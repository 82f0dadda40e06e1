package troupe

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// plan checks the whole configuration and orders the actors into stop
// stages: stage 0 holds the actors with no StopAfter, and an actor's stage is
// one past the latest stage it must stop after. Nil stages, with no error,
// means one stage of every actor. Every problem is reported at once, so a
// user fixes a main.go in one pass. plain says that every actor shares
// the group's defaults, which hold no setting: then only the group's own
// fields can be wrong, and there is no order.
func plan(actors *actorList, group groupSettings, plain bool) (schedule, error) {
	var errs []error
	bad := func(a *Actor, format string, args ...any) {
		name := ""
		if a != nil {
			name = a.displayName()
		}
		errs = append(errs, &configError{actor: name, msg: fmt.Sprintf(format, args...)})
	}
	group.check(bad)
	if plain {
		return schedule{}, errors.Join(errs...)
	}

	var byName map[string]*Actor
	ordered := false
	for a := range actors.all() {
		if a.settings().nilFunc != "" {
			bad(a, "nil %s", a.settings().nilFunc)
		}
		if a.settings().invalid != "" {
			bad(a, "%s", a.settings().invalid)
		}
		if a.ownTimeout() < 0 {
			bad(a, "negative Timeout %v", a.ownTimeout())
		}
		ordered = ordered || len(a.settings().stopAfter)+len(a.settings().startAfter) > 0
		if !a.named() {
			continue
		}
		name := a.settings().name
		if name == "" {
			bad(a, "empty name")
			continue
		}
		if byName == nil {
			byName = make(map[string]*Actor)
		}
		if _, dup := byName[name]; dup {
			bad(a, "name used by another actor")
			continue
		}
		if k := defaultNameIndex(name); k > 0 && k <= actors.len() && !actors.at(k-1).named() {
			bad(a, "name is the default name of the unnamed actor %d", k)
			continue
		}
		byName[name] = a
	}
	for a := range actors.all() {
		checkNames(a, "StopAfter", a.settings().stopAfter, byName, bad)
		checkNames(a, "StartAfter", a.settings().startAfter, byName, bad)
	}
	var sched schedule
	if ordered {
		sched.startsAfter = startsAfter(actors, byName)
		var cycles []error
		sched.stages, cycles = stagesByDepth(actors, byName, sched.startsAfter)
		errs = append(errs, cycles...)
	}
	if len(errs) > 0 {
		return schedule{}, errors.Join(errs...)
	}
	return sched, nil
}

// schedule is what plan works out for a Run: the order of the stop, and
// of the start.
type schedule struct {
	stages      [][]*Actor          // nil: one stage of every actor
	startsAfter map[*Actor][]*Actor // for each actor, those that StartAfter it; nil when none does
}

// stage is the actors of one stop stage: the group's own list when the
// group has one stage, as most do, for a slice of pointers beside it
// would make each idle actor a quarter larger; or those plan put in it.
type stage struct {
	every *actorList
	some  []*Actor
}

func (s stage) len() int {
	if s.every != nil {
		return s.every.len()
	}
	return len(s.some)
}

// at gives the stage's ith actor.
func (s stage) at(i int) *Actor {
	if s.every != nil {
		return s.every.at(i)
	}
	return s.some[i]
}

// startsAfter gives, for each actor, the actors that StartAfter it, or nil
// when none does. Names that plan has refused are left out.
func startsAfter(actors *actorList, byName map[string]*Actor) map[*Actor][]*Actor {
	var after map[*Actor][]*Actor
	for a := range actors.all() {
		for _, name := range a.settings().startAfter {
			if d := byName[name]; d != nil && d != a {
				if after == nil {
					after = make(map[*Actor][]*Actor)
				}
				after[d] = append(after[d], a)
			}
		}
	}
	return after
}

// groupSettings are the group-wide settings that plan checks.
type groupSettings struct {
	shutdownTimeout, startTimeout, stopDelay time.Duration
}

func (s groupSettings) check(bad func(a *Actor, format string, args ...any)) {
	if s.shutdownTimeout < 0 {
		bad(nil, "negative ShutdownTimeout %v", s.shutdownTimeout)
	}
	if s.startTimeout < 0 {
		bad(nil, "negative StartTimeout %v", s.startTimeout)
	}
	switch {
	case s.stopDelay < 0:
		bad(nil, "negative StopDelay %v", s.stopDelay)
	case s.stopDelay > 0 && s.shutdownTimeout > 0 && s.stopDelay >= s.shutdownTimeout:
		bad(nil, "StopDelay %v leaves no time to stop within ShutdownTimeout %v", s.stopDelay, s.shutdownTimeout)
	}
}

// checkNames refuses names that are unknown, or the actor's own.
func checkNames(a *Actor, setting string, names []string, byName map[string]*Actor, bad func(a *Actor, format string, args ...any)) {
	for _, name := range names {
		switch d := byName[name]; {
		case d == nil:
			bad(a, "%s names unknown actor %q", setting, name)
		case d == a:
			bad(a, "%s names the actor itself", setting)
		}
	}
}

// stopsAfter gives the actors that a must stop after, each with the
// setting it comes from: its own StopAfter, and the StartAfter of the
// actors that start after it, which must stop before it. Names that plan
// has refused are left out.
func stopsAfter(a *Actor, byName map[string]*Actor, startsAfterIt map[*Actor][]*Actor) []orderEdge {
	var edges []orderEdge
	for _, name := range a.settings().stopAfter {
		if d := byName[name]; d != nil && d != a {
			edges = append(edges, orderEdge{to: d})
		}
	}
	for _, d := range startsAfterIt[a] {
		edges = append(edges, orderEdge{to: d, start: true})
	}
	return edges
}

// orderEdge says that an actor stops after to; start says that it is
// because to starts after it.
type orderEdge struct {
	to    *Actor
	start bool
}

// stagesByDepth assigns stages by depth-first search. A grey actor met
// again closes a cycle, reported with its path; the search goes on, so that
// every cycle is reported with every other problem. Names that plan has
// already refused (unknown, or the actor itself) are skipped.
func stagesByDepth(actors *actorList, byName map[string]*Actor, startsAfterIt map[*Actor][]*Actor) ([][]*Actor, []error) {
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, actors.len())
	stageOf := make([]int, actors.len())
	var path []orderEdge // path[i].to is the ith actor on the way down
	var cycles []error
	var visit func(a *Actor)
	visit = func(a *Actor) {
		color[a.index] = grey
		for _, e := range stopsAfter(a, byName, startsAfterIt) {
			d := e.to
			switch color[d.index] {
			case grey:
				cycles = append(cycles, cycleError(append(path, e)))
				continue
			case white:
				path = append(path, e)
				visit(d)
				path = path[:len(path)-1]
			}
			stageOf[a.index] = max(stageOf[a.index], stageOf[d.index]+1)
		}
		color[a.index] = black
	}
	depth := 0
	for a := range actors.all() {
		if color[a.index] == white {
			path = append(path[:0], orderEdge{to: a})
			visit(a)
		}
		depth = max(depth, stageOf[a.index]+1)
	}
	if cycles != nil {
		return nil, cycles
	}
	stages := make([][]*Actor, depth)
	for a := range actors.all() {
		s := stageOf[a.index]
		stages[s] = append(stages[s], a)
	}
	return stages, nil
}

// cycleError describes the cycle that closes at the last edge of path:
// "a stops after b stops after a", with the steps that come from
// StartAfter said as such.
func cycleError(path []orderEdge) error {
	again := path[len(path)-1].to
	first := 0
	for i, e := range path {
		if e.to == again {
			first = i
			break
		}
	}
	names := []string{path[first].to.displayName()}
	var byStart []string
	for i := first + 1; i < len(path); i++ {
		names = append(names, path[i].to.displayName())
		if path[i].start {
			byStart = append(byStart, fmt.Sprintf("%s starts after %s", path[i].to.displayName(), path[i-1].to.displayName()))
		}
	}
	msg := "stop order forms a cycle: " + strings.Join(names, " stops after ")
	switch {
	case len(byStart) == len(names)-1:
		slices.Reverse(names)
		msg = "start order forms a cycle: " + strings.Join(names, " starts after ")
	case byStart != nil:
		msg = "start and stop order form a cycle: " + strings.Join(names, " stops after ") +
			" (an actor stops before those it starts after: " + strings.Join(byStart, ", ") + ")"
	}
	return &configError{actor: again.displayName(), msg: msg}
}

// defaultNameIndex gives N when name is exactly actor-N, the name an
// unnamed Nth actor goes by, and 0 otherwise.
func defaultNameIndex(name string) int {
	digits, ok := strings.CutPrefix(name, "actor-")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n <= 0 || "actor-"+strconv.Itoa(n) != name {
		return 0
	}
	return n
}
