package troupe_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

// Default names across the static table's end: the cause and the
// stragglers name actor-16, actor-17 and beyond.
func TestDefaultNamesOnBothSidesOfTheSixteenth(t *testing.T) {
	for _, n := range []int{15, 16, 17, 18, 40} {
		synctest.Test(t, func(t *testing.T) {
			var g troupe.Group
			g.ShutdownTimeout = time.Second
			stubs := make([]*stubborn, n)
			for i := range n - 1 {
				stubs[i] = newStubborn()
				g.Add(stubs[i].execute, stubs[i].interrupt)
			}
			boom := errors.New("boom")
			g.Add(returnsNow(boom)) // actor-n
			err := g.Run()
			var ae *troupe.ActorError
			if !errors.As(err, &ae) || ae.Actor != fmt.Sprintf("actor-%d", n) {
				t.Errorf("n=%d: cause %v", n, err)
			}
			var te *troupe.TimeoutError
			var want []string
			for i := range n - 1 {
				want = append(want, fmt.Sprintf("actor-%d", i+1))
			}
			if !errors.As(err, &te) || !slices.Equal(te.Stragglers, want) {
				t.Errorf("n=%d: stragglers %v", n, te)
			}
			for _, s := range stubs[:n-1] {
				close(s.letGo)
			}
			synctest.Wait()
		})
	}
}
