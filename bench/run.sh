#!/usr/bin/env bash
# Runs the side-by-side benchmarks and prints a benchstat table with one
# column per library. Usage: bench/run.sh [count] (default 6).
set -euo pipefail
cd "$(dirname "$0")"

COUNT=${1:-6}
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
OUT=${OUT:-results.txt}

{
  echo "# $(date -u +%Y-%m-%d) $(go version) $(nproc) cores"
  go test -run '^$' -bench 'StartStop$' -benchmem -count "$COUNT" .
  go test -run '^$' -bench 'StartStopRatio' -benchtime 21x -count "$COUNT" .
  go test -run '^$' -bench 'ShutdownLatency' -benchmem -benchtime 20x -count "$COUNT" .
  go test -run '^$' -bench 'HTTPDrain' -benchtime 3x -count "$COUNT" .
  go test -run '^$' -bench 'HTTPStopMoment' -benchtime 3x -count "$COUNT" .
  go test -run '^$' -bench 'Idle' -benchtime 1x -count "$COUNT" .
} | tee "$OUT"

echo
go run "$BENCHSTAT" -col /lib -row .name,/N "$OUT"
