package troupe

import (
	"reflect"
	"sync"
	"sync/atomic"
)

// adapterLink is what a Run tells a server adapter of this package that it
// runs: whom to tell once the server accepts connections, and the notice
// of the stop. It reaches the adapter through the one function a pair
// offers, its interrupt, which the adapter recognises it in and does not
// take for an interrupt; Run sends it only to interrupts it knows are its
// own (see linkAdapter). A pair wrapped in a function of the caller's is
// not recognised, and runs as any pair does: ready once started, and
// without the stop delay's Connection: close.
type adapterLink struct {
	ready     func()
	notice    *stopNotice
	announces bool // set by the adapter: it will call ready
}

func (*adapterLink) Error() string { return "troupe: adapter link" }

// ownInterrupts are the code addresses of the adapters' interrupt
// methods. Computed once, never changed: a function value is not
// comparable, but the code it runs is.
var ownInterrupts = [...]uintptr{
	reflect.ValueOf((*httpActor)(nil).interrupt).Pointer(),
	reflect.ValueOf((*grpcActor)(nil).interrupt).Pointer(),
}

// linkAdapter links a if its interrupt is one of this package's server
// adapters, and reports whether the adapter will announce that it is
// ready.
func (r *runner) linkAdapter(a *Actor) bool {
	pc := reflect.ValueOf(a.interrupt).Pointer()
	own := false
	for _, p := range ownInterrupts {
		own = own || p == pc
	}
	if !own {
		return false
	}
	link := &adapterLink{
		ready:  r.announcer(a),
		notice: r.life.notice(),
	}
	a.interrupt(link)
	return link.announces
}

// stopNotice tells the server adapters of a whole nest of groups that the
// outermost group's stop has begun, before their interrupts: the
// [Group.StopDelay], during which they keep serving but tell clients to
// go elsewhere. begun is read on every request; the hooks wait in began.
type stopNotice struct {
	begun atomic.Bool
	began moment
}

// onBegin calls f when the stop begins, at once if it has. f must not
// block: it runs on the goroutine that begins the stop.
func (n *stopNotice) onBegin(f func()) { n.began.then(f) }

func (n *stopNotice) begin() {
	n.begun.Store(true)
	n.began.pass()
}

// moment is something that happens once: what is to follow it is called
// when it does, or at once if it has.
type moment struct {
	mu     sync.Mutex
	passed bool
	next   []func()
}

// then calls f once the moment has passed.
func (m *moment) then(f func()) {
	m.mu.Lock()
	if !m.passed {
		m.next = append(m.next, f)
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	f()
}

// pass calls, once, what was to follow; a second pass does nothing.
func (m *moment) pass() {
	m.mu.Lock()
	if m.passed {
		m.mu.Unlock()
		return
	}
	m.passed = true
	next := m.next
	m.next = nil
	m.mu.Unlock()
	for _, f := range next {
		f()
	}
}
