module github.com/troupe-go/troupe

go 1.25.0

require (
	github.com/oklog/run v1.2.0
	go.uber.org/goleak v1.3.0
)
