package troupe

import (
	"fmt"
	"testing"
)

// Two settings of one actor from two goroutines at once are both kept:
// the first gives the actor settings of its own, which the other must
// find through the group's lock, not in the defaults it read before.
func TestTwoSettingsOfOneActorAtOnceAreBothKept(t *testing.T) {
	var g Group
	for i := range 200 {
		a := g.Add(func() error { return nil }, func(error) {})
		done := make(chan struct{})
		go func() { defer close(done); a.OneShot() }()
		name := fmt.Sprint("a", i)
		a.Name(name)
		<-done
		if sp := a.settings(); !sp.oneShot || sp.name != name || sp == &g.defaults {
			t.Fatalf("actor %d: one-shot %v, name %q: a setting was lost", i, sp.oneShot, sp.name)
		}
	}
}
