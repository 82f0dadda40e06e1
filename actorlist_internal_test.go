package troupe

import (
	"context"
	"errors"
	"math/bits"
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"
)

// Every actor keeps its place as more are added, at gives the actor add
// gave, and all walks them in the order they were added, across the
// growing chunks and the full ones.
func TestActorListKeepsEveryActorInPlaceAndInOrder(t *testing.T) {
	var l actorList
	var added []*Actor
	for i := range 3*fullChunk + growingActors + 7 {
		a := l.add()
		a.index = int32(i)
		added = append(added, a)
	}
	if l.len() != len(added) {
		t.Fatalf("len = %d, want %d", l.len(), len(added))
	}
	for i, a := range added {
		if got := l.at(i); got != a || got.index != int32(i) {
			t.Fatalf("at(%d) = actor %d, want the actor add gave", i, got.index)
		}
	}
	if walked := slices.Collect(l.all()); !slices.Equal(walked, added) {
		t.Fatalf("all walked %d actors, not the %d added in order", len(walked), len(added))
	}
	var sizes []int
	for _, c := range l.chunks {
		sizes = append(sizes, len(c))
	}
	if want := []int{4, 4, 8, 16, 31, 63, 127, fullChunk, fullChunk, fullChunk, fullChunk}; !slices.Equal(sizes, want) {
		t.Fatalf("chunk sizes %v, want %v", sizes, want)
	}
}

// An idle group holds an Actor per actor, and it must stay as small as
// oklog/run's pair and its error slot (bench/README.md, Idle); a full
// chunk, with the allocator's 8-byte header, must fill a block of a power
// of two bytes, not spill into the next size class.
func TestAnActorIsPackedInto32Bytes(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the layout is measured on 64-bit platforms")
	}
	if got := unsafe.Sizeof(Actor{}); got != 32 {
		t.Fatalf("an Actor takes %d bytes, want 32", got)
	}
	for c := range growingChunks + 1 {
		size := unsafe.Sizeof(Actor{}) * uintptr(chunkSize(c))
		block := uintptr(1) << bits.Len(uint(size-1)) // the power of two a chunk should fill
		if size > 512 {
			size += 8 // the allocator's header
		}
		if size > block {
			t.Fatalf("chunk %d takes %d bytes with its header, over the %d-byte block it should fill", c, size, block)
		}
	}
}

// The parts of the progress word do not overlap.
func TestProgressWordPartsAreDisjoint(t *testing.T) {
	parts := []uint32{endsMask, statusMask, readyByMask}
	for f := flagCalling; f <= flagReturnRecorded; f <<= 1 {
		parts = append(parts, uint32(f))
	}
	var seen uint32
	for _, p := range parts {
		if p == 0 || seen&p != 0 {
			t.Fatalf("part %#x overlaps %#x", p, seen)
		}
		seen |= p
	}
	if actorNeverStarted<<statusShift&^statusMask != 0 || readyAnnounced<<readyByShift&^readyByMask != 0 {
		t.Fatal("a status or a readiness does not fit its bits")
	}
}

// The actors without settings of their own share their group's defaults,
// which must come out of a Run as they went in, whatever the other actors
// set: a write to them would change every plain actor at once.
func TestTheSharedDefaultsStayUntouched(t *testing.T) {
	var g Group
	g.ShutdownTimeout = time.Minute
	plain := g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil })
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("db")
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).Name("server").StartAfter("db").Timeout(time.Minute)
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }).StopAfter("server")
	g.Go(func(context.Context) error { return nil }).OneShot().ReadyWhen(func(context.Context) error { return nil })
	g.Add(func() error { return errors.New("boom") }, func(error) {})
	if err := g.Run(); err == nil {
		t.Fatal("Run returned nil, want the failure")
	}
	if plain.settings() != &g.defaults {
		t.Fatal("a plain actor was given settings of its own")
	}
	defaults := g.defaults
	if defaults.group != &g {
		t.Fatal("the shared defaults lost their group")
	}
	defaults.group = nil
	if !reflect.ValueOf(defaults).IsZero() {
		t.Fatalf("the shared defaults changed: %+v", defaults)
	}
}
