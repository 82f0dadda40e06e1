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

// The chunks hold 4, 4, 8 and 16 actors, and 255 from then on: below
// actor 32, chunk k > 0 starts at actor 2^(k+1). Chunks of up to 512
// bytes are allocated as they are, but a larger one that holds pointers
// carries an 8-byte header: 256 actors of 32 bytes would take a 9472-byte
// block, 255 fill an 8192-byte one.
const (
	firstChunk    = 4
	growingChunks = 4
	growingActors = 32 // the actors the growing chunks hold
	fullChunk     = 255
)

// chunkOf gives the chunk and the place in it of the ith actor.
func chunkOf(i int) (chunk, at int) {
	switch {
	case i < firstChunk:
		return 0, i
	case i < growingActors:
		k := bits.Len(uint(i)) - 1 // i is in [2^k, 2^(k+1)): chunk k-1
		return k - 1, i - 1<<k
	}
	return growingChunks + (i-growingActors)/fullChunk, (i - growingActors) % fullChunk
}

// add gives the place of the next actor, zero.
func (l *actorList) add() *Actor {
	chunk, at := chunkOf(l.n)
	if chunk == len(l.chunks) {
		switch {
		case chunk == 0:
			l.firstChunks[0] = l.first[:]
			l.chunks = l.firstChunks[:]
		case chunk < growingChunks:
			l.chunks = append(l.chunks, make([]Actor, l.n)) // as many as came before
		default:
			l.chunks = append(l.chunks, make([]Actor, fullChunk))
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
