package troupe_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/troupe-go/troupe"
)

// A group may be built from several goroutines at once, as Add and the
// settings take the group's lock: -race finds nothing, and every actor
// keeps its own name.
func TestAGroupBuiltFromSeveralGoroutinesAtOnceRacesNothing(t *testing.T) {
	var g troupe.Group
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				g.Add(func() error { return nil }, func(error) {}).Name(fmt.Sprintf("w%d-%d", w, i))
			}
		})
	}
	wg.Wait()
	if err := g.Run(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(g.NotReady()); n != 0 {
		t.Fatalf("%d actors not ready after Run", n)
	}
}
