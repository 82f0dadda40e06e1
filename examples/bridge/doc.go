// Package bridge holds the tests of troupe.Serve under a real
// golang.org/x/sync/errgroup: troupe's adapters in a program that does not
// use troupe.Group. They live in the examples module so that x/sync stays
// out of the library's go.mod.
package bridge
