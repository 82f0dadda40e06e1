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
		ready:  func() { r.events <- event{a, becameReady, nil} },
		notice: r.life.notice(),
	}
	a.interrupt(link)
	return link.announces
}

// stopNotice tells the server adapters of a whole nest of groups that the
// outermost group's stop has begun, before their interrupts: the
// [Group.StopDelay], during which they keep serving but tell clients to
// go elsewhere.
type stopNotice struct {
	begun atomic.Bool
	mu    sync.Mutex
	hooks []func()
}

// onBegin calls f when the stop begins, at once if it has. f must not
// block: it runs on the Run's goroutine.
func (n *stopNotice) onBegin(f func()) {
	n.mu.Lock()
	if !n.begun.Load() {
		n.hooks = append(n.hooks, f)
		n.mu.Unlock()
		return
	}
	n.mu.Unlock()
	f()
}

func (n *stopNotice) begin() {
	n.mu.Lock()
	if n.begun.Swap(true) {
		n.mu.Unlock()
		return
	}
	hooks := n.hooks
	n.hooks = nil
	n.mu.Unlock()
	for _, f := range hooks {
		f()
	}
}
