// Package copiedgroup copies a troupe.Group on purpose: vet_test.go checks
// that go vet reports it.
package copiedgroup

import "github.com/troupe-go/troupe"

func run(g troupe.Group) error { return g.Run() }

func Copy() error {
	var g troupe.Group
	return run(g)
}
