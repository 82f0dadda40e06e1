package troupe

import (
	"errors"
	"fmt"
	"strings"
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

// Run skips the walks that read only settings while every actor shares
// the defaults; one setting anywhere in a large group, or a nil function
// at Add, counts an owner, and Run checks it. Were the setting left
// unchecked, Run would start the actors, which return at once, and
// return nil.
func TestOneSettingInALargeGroupIsChecked(t *testing.T) {
	cases := []struct {
		name    string
		setting func(g *Group)
		want    string
	}{
		{"an unknown StopAfter", func(g *Group) {
			g.Add(func() error { return nil }, func(error) {}).StopAfter("nobody")
		}, `unknown actor "nobody"`},
		{"an empty name", func(g *Group) { g.Add(func() error { return nil }, func(error) {}).Name("") }, "empty name"},
		{"a nil interrupt", func(g *Group) { g.Add(func() error { return nil }, nil) }, "nil interrupt function"},
		{"a negative Timeout", func(g *Group) {
			g.Add(func() error { return nil }, func(error) {}).Timeout(-1)
		}, "negative Timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var g Group
			for range 300 {
				g.Add(func() error { return nil }, func(error) {})
			}
			c.setting(&g)
			if g.owners != 1 {
				t.Fatalf("%d actors with settings of their own, want 1", g.owners)
			}
			err := g.Run()
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Run: %v, want ErrInvalid naming %q", err, c.want)
			}
		})
	}
}
