module github.com/troupe-go/troupe/bench

go 1.25.0

replace github.com/troupe-go/troupe => ../

require (
	github.com/oklog/run v1.2.0
	github.com/sourcegraph/conc v0.3.0
	github.com/troupe-go/troupe v0.0.0-00010101000000-000000000000
	golang.org/x/sync v0.22.0
)

require (
	go.uber.org/atomic v1.7.0 // indirect
	go.uber.org/multierr v1.9.0 // indirect
)
