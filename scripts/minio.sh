#!/usr/bin/env bash
# minio.sh installs and runs the MinIO server the tests and the demo use.
#
#   scripts/minio.sh install         build MinIO into the cache when missing (idempotent)
#   scripts/minio.sh path            print the binary's path (does not install)
#   scripts/minio.sh start DIR PORT  run MinIO in the background on 127.0.0.1:PORT
#                                    with data in DIR; prints the credentials
#   scripts/minio.sh stop DIR        stop the MinIO started with that DIR
#
# The binary lives outside the repository, in
#   ${MPSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mpship}/bin/minio
# which is also where the Go test helper (internal/miniotest) looks, after
# $MPSHIP_MINIO and before $PATH. The first install compiles MinIO from
# source with the Go toolchain: about 5 minutes on 2 cores and ~150 MB.
set -euo pipefail

MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"

cache_dir() {
	echo "${MPSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mpship}"
}

bin_path() {
	echo "$(cache_dir)/bin/minio"
}

usage() {
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

cmd_install() {
	local bin
	bin="$(bin_path)"
	if [[ -x "$bin" ]]; then
		echo "$bin"
		return 0
	fi
	if ! command -v go >/dev/null 2>&1; then
		echo "minio.sh: the Go toolchain is needed to build MinIO; install Go and re-run" >&2
		exit 1
	fi
	mkdir -p "$(dirname "$bin")"
	echo "minio.sh: building ${MINIO_MODULE}@${MINIO_VERSION} into $(dirname "$bin") (first run only, takes minutes)" >&2
	# Build outside the repository so its go.mod does not interfere, and with
	# GOFLAGS cleared so a caller's -mod setting cannot break the build.
	(cd "$(dirname "$bin")" && GOFLAGS= GOBIN="$(dirname "$bin")" go install "${MINIO_MODULE}@${MINIO_VERSION}")
	echo "$bin"
}

cmd_path() {
	echo "$(bin_path)"
}

cmd_start() {
	local dir="${1:-}" port="${2:-}"
	if [[ -z "$dir" || -z "$port" ]]; then
		echo "minio.sh start: need DIR and PORT, e.g. scripts/minio.sh start /tmp/minio-data 9000" >&2
		exit 2
	fi
	local bin
	bin="$(cmd_install)"
	mkdir -p "$dir/data"
	if [[ -f "$dir/minio.pid" ]] && kill -0 "$(cat "$dir/minio.pid")" 2>/dev/null; then
		echo "minio.sh: MinIO already running for $dir (pid $(cat "$dir/minio.pid"))" >&2
		exit 1
	fi
	local user="${MINIO_ROOT_USER:-mpship}"
	local pass="${MINIO_ROOT_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')}"
	MINIO_ROOT_USER="$user" MINIO_ROOT_PASSWORD="$pass" MINIO_BROWSER=off MINIO_UPDATE=off \
		nohup "$bin" server --quiet --address "127.0.0.1:${port}" "$dir/data" >"$dir/minio.log" 2>&1 &
	echo $! >"$dir/minio.pid"
	local i
	for i in $(seq 1 100); do
		if curl -fsS "http://127.0.0.1:${port}/minio/health/live" >/dev/null 2>&1; then
			cat <<EOF
export MINIO_ROOT_USER=$user
export MINIO_ROOT_PASSWORD=$pass
export AWS_ACCESS_KEY_ID=$user
export AWS_SECRET_ACCESS_KEY=$pass
export AWS_ENDPOINT_URL=http://127.0.0.1:${port}
EOF
			return 0
		fi
		if ! kill -0 "$(cat "$dir/minio.pid")" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "minio.sh: MinIO did not become ready; see $dir/minio.log" >&2
	exit 1
}

cmd_stop() {
	local dir="${1:-}"
	if [[ -z "$dir" || ! -f "$dir/minio.pid" ]]; then
		echo "minio.sh stop: need the DIR given to start (it holds minio.pid)" >&2
		exit 2
	fi
	local pid
	pid="$(cat "$dir/minio.pid")"
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		local i
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
	fi
	rm -f "$dir/minio.pid"
}

case "${1:-}" in
install) cmd_install ;;
path) cmd_path ;;
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
*) usage ;;
esac
