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

// The stragglers at a deadline are named, and only they, in groups whose
// actors span the chunks they are kept in (4, 4, 8, 16, then 255), with
// one stop stage and with two.
func TestStragglersAcrossTheActorChunksAreNamed(t *testing.T) {
	for _, staged := range []bool{false, true} {
		for _, n := range []int{5, 33, 288, 289} {
			t.Run(fmt.Sprintf("staged=%v/n=%d", staged, n), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					stragglersAcrossChunks(t, staged, n)
				})
			})
		}
	}
}

func stragglersAcrossChunks(t *testing.T, staged bool, n int) {
	var g troupe.Group
	g.ShutdownTimeout = time.Second
	release := make(chan struct{})
	stuck := map[int]bool{0: true, 3: true, 4: true, n - 1: true}
	if n > 32 {
		stuck[31], stuck[32] = true, true
	}
	var want []string
	for i := range n {
		ch := make(chan struct{})
		execute := func() error { <-ch; return nil }
		if i == 1 {
			execute = func() error { return nil } // begins the shutdown
		}
		a := g.Add(execute, func(error) {
			if stuck[i] {
				<-release
			}
			close(ch)
		}).Name(fmt.Sprint("a", i))
		if staged && i == n-1 {
			// In a later stage, interrupted only at the deadline, not
			// waited for; its execute still runs, so it is named.
			a.StopAfter("a2")
		}
		if stuck[i] {
			want = append(want, fmt.Sprint("a", i))
		}
	}
	err := g.Run()
	close(release)
	synctest.Wait()
	var te *troupe.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("Run = %v, want a TimeoutError", err)
	}
	got := slices.Sorted(slices.Values(te.Stragglers))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("stragglers %v, want %v", got, want)
	}
}
