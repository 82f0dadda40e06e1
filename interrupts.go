package troupe

import (
	"slices"
	"sync/atomic"
	"time"
)

// crewCheck is how often Run looks at a crew with interrupts left to claim.
// A crew that has finished no interrupt since the last look is stuck, and
// doubles; so N interrupts that all block are all under way after about
// log2(N) looks, under a millisecond for hundreds of them, while a crew that
// keeps finishing them stays small.
const crewCheck = 100 * time.Microsecond

// smallBatch is the most interrupts that simply get a goroutine each: for a
// few, that is cheaper than a crew and the timer that watches it.
const smallBatch = 4

// crews calls interrupts concurrently without a goroutine for each. A
// goroutine per interrupt would double what starting and stopping a group
// costs (goroutine creation dominates it), yet a single goroutine calling
// them in turn lets one blocking interrupt delay the rest. So each stage's
// interrupts go to a crew that starts with one goroutine and grows while
// its goroutines are all stuck. Only Run's goroutine touches crews; the
// goroutines share a batch through its atomic cursor.
type crews struct {
	batches []*batch
	timer   *time.Timer
	armed   bool
}

type batch struct {
	actors []*Actor
	next   atomic.Int64 // index of the next interrupt to claim
	ended  atomic.Int64 // interrupts that have returned
	seen   int64        // ended, at Run's last look
	size   int          // goroutines started on it
}

func (c *crews) start(actors []*Actor, r *runner) {
	if len(actors) <= smallBatch {
		for _, a := range actors {
			go r.callInterrupt(a)
		}
		return
	}
	b := &batch{actors: actors, size: 1}
	go b.work(r)
	c.batches = append(c.batches, b)
	c.arm()
}

func (b *batch) work(r *runner) {
	for {
		i := int(b.next.Add(1)) - 1
		if i >= len(b.actors) {
			return
		}
		r.callInterrupt(b.actors[i])
		b.ended.Add(1)
	}
}

func (b *batch) unclaimed() int { return max(0, len(b.actors)-int(b.next.Load())) }

func (c *crews) arm() {
	if c.timer == nil {
		c.timer = time.NewTimer(crewCheck)
	} else {
		c.timer.Reset(crewCheck)
	}
	c.armed = true
}

// check is the channel to select on; nil, which never fires, when no batch
// has work left.
func (c *crews) check() <-chan time.Time {
	if !c.armed {
		return nil
	}
	return c.timer.C
}

// grow doubles the crew of every batch that has interrupts left to claim
// and has finished none since the last look.
func (c *crews) grow(r *runner) {
	c.armed = false
	c.batches = slices.DeleteFunc(c.batches, func(b *batch) bool { return b.unclaimed() == 0 })
	for _, b := range c.batches {
		if ended := b.ended.Load(); ended != b.seen {
			b.seen = ended
			continue
		}
		more := min(b.size, b.unclaimed())
		for range more {
			go b.work(r)
		}
		b.size += more
	}
	if len(c.batches) > 0 {
		c.arm()
	}
}

// abandon gives every unclaimed interrupt a goroutine of its own, for when
// Run stops waiting at the shutdown deadline: each interrupt is still called.
func (c *crews) abandon(r *runner) {
	for _, b := range c.batches {
		for {
			i := int(b.next.Add(1)) - 1
			if i >= len(b.actors) {
				break
			}
			go r.callInterrupt(b.actors[i])
		}
	}
	c.batches = nil
}

func (c *crews) stop() {
	if c.timer != nil {
		c.timer.Stop()
	}
}
