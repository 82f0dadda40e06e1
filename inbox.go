package troupe

import (
	"sync"
	"time"
)

// inbox is how the goroutines of a Run (executes, interrupts, checks,
// timers, Stop) tell the runner what happened: a queue that never blocks a
// sender, also after Run has returned, and that takes no memory per actor
// while nothing happens. A buffered channel would need room for every
// event that could ever be sent, two or more per actor, made up front.
//
// The runner takes the queue a batch at a time: a shutdown's returns come
// in bursts, and one wake-up then serves many of them.
type inbox struct {
	mu    sync.Mutex
	queue []event
	// wake holds a token whenever the queue may be non-empty and the
	// runner may be waiting: a sender that makes the queue non-empty puts
	// one in, and one is enough however many follow before the runner
	// takes them. A token left over from a batch already taken only costs
	// the runner a look at an empty queue.
	wake chan struct{}

	batch []event // the batch being applied, owned by the runner
	next  int     // the batch's next event

	// The two alternate as queue and batch; a group that never has more
	// than a few events waiting at once allocates no other.
	smallQueue, smallBatch [4]event
}

func (b *inbox) init() {
	b.wake = make(chan struct{}, 1)
	b.queue, b.batch = b.smallQueue[:0], b.smallBatch[:0]
}

// send queues ev for the runner; it never blocks.
func (b *inbox) send(ev event) {
	b.mu.Lock()
	b.queue = append(b.queue, ev)
	first := len(b.queue) == 1
	b.mu.Unlock()
	if first {
		select {
		case b.wake <- struct{}{}:
		default: // a token waits already
		}
	}
}

// poll gives the next event if one is queued, without waiting.
func (b *inbox) poll() (event, bool) {
	if b.next == len(b.batch) {
		// The batch applied is done with: it becomes the queue's storage,
		// cleared so that it holds on to no actor's error.
		clear(b.batch)
		b.mu.Lock()
		b.batch, b.queue = b.queue, b.batch[:0]
		b.mu.Unlock()
		b.next = 0
		if len(b.batch) == 0 {
			return event{}, false
		}
	}
	ev := b.batch[b.next]
	b.next++
	return ev, true
}

// receive gives the next event, waiting for one. If a timer ticks first,
// tick says which, 1 or 2; it is 0 with an event. A nil timer channel
// never ticks. Queued events come before ticks: taking a queued one is
// cheaper than a select that also locks the timers, and events come in
// bursts.
func (b *inbox) receive(timer1, timer2 <-chan time.Time) (ev event, tick int) {
	for {
		if ev, ok := b.poll(); ok {
			return ev, 0
		}
		if timer1 == nil && timer2 == nil {
			<-b.wake // a plain receive costs less than a select
			continue
		}
		select {
		case <-b.wake:
		case <-timer1:
			return event{}, 1
		case <-timer2:
			return event{}, 2
		}
	}
}
