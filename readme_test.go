package troupe_test

import (
	"os"
	"strings"
	"testing"
)

// The README's quick start is examples/quickstart/main.go, which go build
// and go vet compile; this keeps the two identical.
func TestREADMEQuickStartIsTheCompiledExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	quickstart, err := os.ReadFile("examples/quickstart/main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, after, found := strings.Cut(string(readme), "<!-- quickstart: examples/quickstart/main.go")
	if !found {
		t.Fatal("README has no quick start marker")
	}
	_, block, _ := strings.Cut(after, "```go\n")
	block, _, _ = strings.Cut(block, "```\n")
	if block != string(quickstart) {
		t.Error("README's quick start differs from examples/quickstart/main.go; copy the file into the README")
	}
}
