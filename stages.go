package troupe

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// plan checks the whole configuration and orders the actors into stop
// stages: stage 0 holds the actors with no StopAfter, and an actor's stage is
// one past the latest stage it must stop after. Nil stages, with no error,
// means one stage of every actor. Every problem is reported at once, so a
// user fixes a main.go in one pass.
func plan(actors []*Actor, shutdownTimeout time.Duration) ([][]*Actor, error) {
	var errs []error
	bad := func(a *Actor, format string, args ...any) {
		name := ""
		if a != nil {
			name = a.displayName()
		}
		errs = append(errs, &configError{actor: name, msg: fmt.Sprintf(format, args...)})
	}
	if shutdownTimeout < 0 {
		bad(nil, "negative ShutdownTimeout %v", shutdownTimeout)
	}

	var byName map[string]*Actor
	ordered := false
	for _, a := range actors {
		if a.nilFunc != "" {
			bad(a, "nil %s", a.nilFunc)
		}
		if a.special != nil && a.special.invalid != "" {
			bad(a, "%s", a.special.invalid)
		}
		if a.timeout < 0 {
			bad(a, "negative Timeout %v", a.timeout)
		}
		ordered = ordered || len(a.stopAfter) > 0
		if !a.named {
			continue
		}
		if a.name == "" {
			bad(a, "empty name")
			continue
		}
		if byName == nil {
			byName = make(map[string]*Actor)
		}
		if _, dup := byName[a.name]; dup {
			bad(a, "name used by another actor")
			continue
		}
		if k := defaultNameIndex(a.name); k > 0 && k <= len(actors) && !actors[k-1].named {
			bad(a, "name is the default name of the unnamed actor %d", k)
			continue
		}
		byName[a.name] = a
	}
	for _, a := range actors {
		for _, dep := range a.stopAfter {
			switch d := byName[dep]; {
			case d == nil:
				bad(a, "StopAfter names unknown actor %q", dep)
			case d == a:
				bad(a, "StopAfter names the actor itself")
			}
		}
	}
	var stages [][]*Actor // nil: one stage of every actor
	if ordered {
		var cycles []error
		stages, cycles = stagesByDepth(actors, byName)
		errs = append(errs, cycles...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return stages, nil
}

// stagesByDepth assigns stages by depth-first search. A grey actor met
// again closes a cycle, reported with its path; the search goes on, so that
// every cycle is reported with every other problem. Names that plan has
// already refused (unknown, or the actor itself) are skipped.
func stagesByDepth(actors []*Actor, byName map[string]*Actor) ([][]*Actor, []error) {
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(actors))
	var path []*Actor
	var cycles []error
	var visit func(a *Actor)
	visit = func(a *Actor) {
		color[a.index] = grey
		path = append(path, a)
		a.stage = 0
		for _, dep := range a.stopAfter {
			d := byName[dep]
			if d == nil || d == a {
				continue
			}
			switch color[d.index] {
			case grey:
				cycles = append(cycles, cycleError(path, d))
				continue
			case white:
				visit(d)
			}
			a.stage = max(a.stage, d.stage+1)
		}
		path = path[:len(path)-1]
		color[a.index] = black
	}
	depth := 0
	for _, a := range actors {
		if color[a.index] == white {
			visit(a)
		}
		depth = max(depth, a.stage+1)
	}
	if cycles != nil {
		return nil, cycles
	}
	stages := make([][]*Actor, depth)
	for _, a := range actors {
		stages[a.stage] = append(stages[a.stage], a)
	}
	return stages, nil
}

func cycleError(path []*Actor, again *Actor) error {
	var names []string
	for i, a := range path {
		if a == again {
			for _, b := range path[i:] {
				names = append(names, b.displayName())
			}
			break
		}
	}
	names = append(names, again.displayName())
	return &configError{actor: again.displayName(), msg: "stop order forms a cycle: " + strings.Join(names, " stops after ")}
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
