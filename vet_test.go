package troupe_test

import (
	"os/exec"
	"strings"
	"testing"
)

// A Group holds its actors and its state; a copy would share the one and
// not the other. go vet must report copies.
func TestGoVetReportsACopiedGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go vet")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(gobin, "vet", "./testdata/copiedgroup").CombinedOutput()
	if err == nil {
		t.Fatalf("go vet accepted a copied Group:\n%s", out)
	}
	if !strings.Contains(string(out), "passes lock by value: github.com/troupe-go/troupe.Group contains sync.Mutex") {
		t.Errorf("go vet did not report the copy as expected:\n%s", out)
	}
}
