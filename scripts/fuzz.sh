#!/usr/bin/env bash
# Runs every native fuzz target in the module for a while each.
# Usage: scripts/fuzz.sh [DURATION]   (default 30s; go test's -fuzztime syntax)
# New crashers land in the package's testdata/fuzz/FuzzX/ directory: commit
# them with the fix, as regression seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${1:-30s}"

for pkg in $(go list ./...); do
	dir="$(go list -f '{{.Dir}}' "$pkg")"
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "== $pkg $target ($FUZZTIME)"
		go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s
	done
done
