#!/usr/bin/env bash
# Runs every test with the race detector. Integration tests need a MinIO
# server: this script builds the pinned one into the cache when it is missing
# (the first run takes about five minutes) and the tests start and stop
# their own instances on loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

# The newcomer walk-through checks the conditional GET with curl.
if ! command -v curl >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		apt-get update -qq && apt-get install -y -qq curl >/dev/null
	else
		echo "scripts/test.sh: curl is missing; install it (apt-get install curl)" >&2
		exit 1
	fi
fi

MPSHIP_MINIO="$(scripts/minio.sh install)"
export MPSHIP_MINIO

# Make the shared test data mandatory under CI: a skipped integration test is a failure there.
go test -race -count=1 -timeout 20m ./... "$@"
