//go:build !unix

package troupe_test

// childEnv and runChild exist only where the subprocess signal tests do.
const childEnv = "TROUPE_SIGNAL_CHILD"

func runChild(string) int { return 2 }
