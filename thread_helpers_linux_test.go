package troupe_test

import (
	"os"
	"runtime"
	"syscall"
	"testing"
)

// threadMove is what the thread tests share: a goroutine locks itself to
// its thread and moves the thread's working directory elsewhere, as an
// execute that changes its thread (a namespace, a directory) and returns
// does; Go then ends the thread with the goroutine. Code that runs later
// must find itself in the process's own directory.
type threadMove struct {
	here, elsewhere string
	home            syscall.Stat_t
	unshareErr      error
	chdirErr        error
}

func newThreadMove(t *testing.T) *threadMove {
	t.Helper()
	m := &threadMove{elsewhere: t.TempDir()}
	var err error
	if m.here, err = os.Getwd(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(m.here, &m.home); err != nil {
		t.Fatal(err)
	}
	return m
}

// move locks the calling goroutine to its thread, for good, and moves the
// thread elsewhere.
func (m *threadMove) move() {
	runtime.LockOSThread() // and never unlocked
	if m.unshareErr = syscall.Unshare(syscall.CLONE_FS); m.unshareErr == nil {
		m.chdirErr = syscall.Chdir(m.elsewhere)
	}
}

// atHome reports whether the calling goroutine's thread is in the
// process's directory.
func (m *threadMove) atHome() bool {
	var seen syscall.Stat_t
	return syscall.Stat(".", &seen) == nil && seen.Dev == m.home.Dev && seen.Ino == m.home.Ino
}

// check skips the test where unshare is refused, and fails it if the move
// failed or what ran later was not at home.
func (m *threadMove) check(t *testing.T, what string, atHome bool) {
	t.Helper()
	if m.unshareErr != nil {
		t.Skipf("unshare(CLONE_FS): %v", m.unshareErr)
	}
	if m.chdirErr != nil {
		t.Fatal(m.chdirErr)
	}
	if !atHome {
		t.Fatalf("%s ran in the directory a locked thread moved to (%s), not the process's (%s)", what, m.elsewhere, m.here)
	}
}
