package troupe

import (
	"sync"
	"testing"
	"time"
)

// The inbox loses nothing and keeps each sender's order, under many
// concurrent senders and a receiver that alternates receive and poll.
func TestInboxLosesNoEventAndKeepsEachSendersOrder(t *testing.T) {
	for round := range 200 {
		var b inbox
		b.init()
		const senders, each = 8, 200
		actors := make([]Actor, senders)
		var wg sync.WaitGroup
		for s := range senders {
			wg.Go(func() {
				for i := range each {
					b.send(event{actor: &actors[s], kind: eventKind(i % 7)})
				}
			})
		}
		next := make([]int, senders)
		got := 0
		safety := time.NewTimer(time.Minute)
		for got < senders*each {
			var ev event
			if got%3 == 0 {
				var ok bool
				if ev, ok = b.poll(); !ok {
					continue
				}
			} else {
				var tick int
				ev, tick = b.receive(safety.C, nil)
				if tick != 0 {
					t.Fatalf("round %d: lost wake-up: %d of %d events", round, got, senders*each)
				}
			}
			idx := -1
			for k := range actors {
				if ev.actor == &actors[k] {
					idx = k
				}
			}
			if want := eventKind(next[idx] % 7); ev.kind != want {
				t.Fatalf("round %d: sender %d: out of order", round, idx)
			}
			next[idx]++
			got++
		}
		wg.Wait()
		if ev, ok := b.poll(); ok {
			t.Fatalf("extra event %v", ev)
		}
		safety.Stop()
	}
}
