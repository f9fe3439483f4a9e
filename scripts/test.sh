#!/usr/bin/env bash
# Runs every test with the race detector. Integration tests need a MinIO
# server: this script builds the pinned one into the cache when it is missing
# (the first run takes about five minutes) and the tests start and stop
# their own instances on loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

MPSHIP_MINIO="$(scripts/minio.sh install)"
export MPSHIP_MINIO

# Make the shared test data mandatory under CI: a skipped integration test is a failure there.
go test -race -count=1 -timeout 20m ./... "$@"
