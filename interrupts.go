package troupe

import (
	"slices"
	"sync/atomic"
	"time"
)

// crewStart is the largest batch whose interrupts each get a goroutine at
// once: the usual few blocking ones (a server's drain each) all begin
// together, and nothing needs watching. A larger batch, typically many
// quick interrupts, starts with one goroutine, which measured 10-15% faster
// for 100 and 10 000 actors than starting with sixteen that then contend.
const crewStart = 16

// crewCheck is how often Run looks at a crew with interrupts left to claim.
// A crew that has finished no interrupt since the last look is stuck, and
// grows fourfold. The runtime's timers fire about a millisecond late when
// the process is idle, so N interrupts that all block are under way within
// about log4(N/16) milliseconds, while a crew that keeps finishing them
// stays as it started.
const crewCheck = 100 * time.Microsecond

// crews calls interrupts concurrently without a goroutine for each. A
// goroutine per interrupt would double what starting and stopping a large
// group costs (goroutine creation dominates it), yet a single goroutine
// calling them in turn lets one blocking interrupt delay the rest. So each
// stage's interrupts go to a crew that starts small and grows while its
// goroutines are all stuck. Only Run's goroutine touches crews; the
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
	b := &batch{actors: actors, size: len(actors)}
	if b.size > crewStart {
		b.size = 1
	}
	for range b.size {
		go b.work(r)
	}
	if len(actors) > b.size {
		c.batches = append(c.batches, b)
		c.arm()
	}
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

// grow quadruples the crew of every batch that has interrupts left to
// claim and has finished none since the last look.
func (c *crews) grow(r *runner) {
	c.armed = false
	c.batches = slices.DeleteFunc(c.batches, func(b *batch) bool { return b.unclaimed() == 0 })
	for _, b := range c.batches {
		if ended := b.ended.Load(); ended != b.seen {
			b.seen = ended
			continue
		}
		more := min(3*b.size, b.unclaimed())
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
