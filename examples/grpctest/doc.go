// Package grpctest holds troupe's tests against a real
// google.golang.org/grpc server. They live in the examples module so that
// grpc never enters the library's go.mod, where minimal version selection
// would push it into every user's build.
package grpctest
