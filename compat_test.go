package troupe_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oklog/run"
	"github.com/troupe-go/troupe"
)

// runner is what code written for run.Group uses: Add with oklog/run's
// signature, and Run.
type runner interface {
	add(execute func() error, interrupt func(error))
	Run() error
}

type oklogGroup struct{ run.Group }

func (g *oklogGroup) add(e func() error, i func(error)) { g.Add(e, i) }

type troupeGroup struct{ troupe.Group }

func (g *troupeGroup) add(e func() error, i func(error)) { g.Add(e, i) }

var groups = []struct {
	name string
	make func() runner
}{
	{"oklog/run", func() runner { return &oklogGroup{} }},
	{"troupe", func() runner { return &troupeGroup{} }},
}

func TestSameOutcomeAsOklogRun(t *testing.T) {
	boom := errors.New("boom")
	for _, sc := range []struct {
		name    string
		first   error
		wantErr error
	}{
		{"first nil return interrupts all, Run returns nil", nil, nil},
		{"first error interrupts all, Run returns it", boom, boom},
	} {
		for _, grp := range groups {
			t.Run(sc.name+"/"+grp.name, func(t *testing.T) {
				g := grp.make()
				probes := []*probe{newProbe(nil), newProbe(nil), newProbe(nil)}
				for _, p := range probes {
					g.add(p.execute, p.interrupt)
				}
				g.add(returnsNow(sc.first))
				err := g.Run()
				if (sc.wantErr == nil) != (err == nil) || !errors.Is(err, sc.wantErr) {
					t.Fatalf("Run() = %v, want %v", err, sc.wantErr)
				}
				for i, p := range probes {
					if want, have := int32(1), p.calls.Load(); want != have {
						t.Errorf("actor %d: interrupt calls: want %d, have %d", i, want, have)
					}
					if sc.first != nil && !errors.Is(p.gotCause(), sc.first) {
						t.Errorf("actor %d: interrupt got %v, want the first error", i, p.gotCause())
					}
				}
			})
		}
	}
}

// The defect reported against oklog/run: interrupts are called one after
// another, so N that each block for d take N×d. troupe's, each on a
// goroutine of its own, take d.
func TestBlockingInterruptsTakeNTimesDInOklogRunButDInTroupe(t *testing.T) {
	const n, d = 3, 300 * time.Millisecond
	least := map[string]time.Duration{"oklog/run": n * d, "troupe": d}
	most := map[string]time.Duration{"oklog/run": n * d, "troupe": d + time.Millisecond}
	for _, grp := range groups {
		t.Run(grp.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := grp.make()
				var interrupted atomic.Int32
				for range n {
					p := newProbe(nil)
					g.add(p.execute, func(cause error) {
						time.Sleep(d) // fake time: a Shutdown that blocks for d
						interrupted.Add(1)
						p.interrupt(cause)
					})
				}
				g.add(returnsNow(nil))
				start := time.Now()
				if err := g.Run(); err != nil {
					t.Fatal(err)
				}
				if have := time.Since(start); have < least[grp.name] || have > most[grp.name] {
					t.Errorf("shutdown took %v, want %v to %v", have, least[grp.name], most[grp.name])
				}
				if interrupted.Load() != n {
					t.Errorf("%d interrupts finished, want %d", interrupted.Load(), n)
				}
			})
		})
	}
}
