package troupe

import (
	"iter"
	"math/bits"
)

// actorList holds a group's actors, in the order they were added, in
// chunks that never move: Add hands out pointers into them. One
// allocation per chunk rather than per actor keeps Add as cheap as
// oklog/run's for large groups, and walking the chunks instead of keeping
// a slice of pointers beside them saves an idle actor 8 bytes and more
// (bench/README.md, Idle). The first chunk, and the first slice of
// chunks, live in the list itself, so that a small group allocates none.
type actorList struct {
	first       [firstChunk]Actor
	firstChunks [1][]Actor
	chunks      [][]Actor
	n           int
}

// The chunks hold 4, 4, 8 and 16 actors, then 31, 63 and 127, and 255
// from then on: each about doubles what came before, so that a group of a
// hundred does not zero a full chunk for a few dozen. Chunks of up to 512
// bytes are allocated as they are, but a larger one that holds pointers
// carries an 8-byte header: 2^k actors of 32 bytes would spill into the
// next size class, one fewer fills a block of 2^(k+5) bytes exactly
// (256 actors took a 9472-byte block, 255 take 8192).
const (
	firstChunk    = 4
	growingChunks = 7   // the chunks that grow, the first one included
	growingActors = 253 // the actors they hold
	fullChunk     = 255
)

// chunkOf gives the chunk and the place in it of the ith actor.
func chunkOf(i int) (chunk, at int) {
	switch {
	case i < firstChunk:
		return 0, i
	case i < 32:
		k := bits.Len(uint(i)) - 1 // i is in [2^k, 2^(k+1)): chunk k-1, which holds 2^k
		return k - 1, i - 1<<k
	case i < growingActors:
		// Chunk c, from the fifth (c = 4) on, holds 2^(c+1) - 1, and so
		// starts c-4 actors before 2^(c+1). i is in chunk k-1 or the one
		// after, which may start just before 2^(k+1).
		k := bits.Len(uint(i)) - 1
		c := k - 1
		if i >= growingStart(c+1) {
			c++
		}
		return c, i - growingStart(c)
	}
	return growingChunks + (i-growingActors)/fullChunk, (i - growingActors) % fullChunk
}

// growingStart gives the index of the first actor of chunk c, for c from
// 4, the first to hold one fewer than a power of two, to growingChunks.
func growingStart(c int) int { return 1<<(c+1) - (c - 4) }

// chunkSize gives how many actors chunk c holds.
func chunkSize(c int) int {
	switch {
	case c == 0:
		return firstChunk
	case c < 4:
		return 1 << (c + 1) // as many as came before
	}
	return min(1<<(c+1)-1, fullChunk) // one fewer than doubling, for the header
}

// add gives the place of the next actor, zero.
func (l *actorList) add() *Actor {
	chunk, at := chunkOf(l.n)
	if chunk == len(l.chunks) {
		if chunk == 0 {
			l.firstChunks[0] = l.first[:]
			l.chunks = l.firstChunks[:]
		} else {
			l.chunks = append(l.chunks, make([]Actor, chunkSize(chunk)))
		}
	}
	l.n++
	return &l.chunks[chunk][at]
}

// len gives the number of actors.
func (l *actorList) len() int { return l.n }

// at gives the ith actor added.
func (l *actorList) at(i int) *Actor {
	chunk, at := chunkOf(i)
	return &l.chunks[chunk][at]
}

// all gives the actors in the order they were added.
func (l *actorList) all() iter.Seq[*Actor] {
	return func(yield func(*Actor) bool) {
		left := l.n
		for _, chunk := range l.chunks {
			for i := range chunk[:min(len(chunk), left)] {
				if !yield(&chunk[i]) {
					return
				}
			}
			left -= len(chunk)
		}
	}
}
