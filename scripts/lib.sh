# Shell helpers shared by the demo and the newcomer walk-through. Source it.

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# field JSON NAME prints a top-level field of the indented JSON object that
# mpship's --json prints (top-level members are indented by two spaces), without jq.
field() {
	printf '%s\n' "$1" | sed -n "s/^  \"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" | head -n1
}

# expect WHAT GOT WANT fails the script unless GOT equals WANT.
expect() {
	if [ "$2" != "$3" ]; then
		printf 'FAIL: %s: got %q, want %q\n' "$1" "$2" "$3" >&2
		exit 1
	fi
	printf 'ok: %s = %s\n' "$1" "$2"
}

# start_origin MPSHIP STORE LOG starts 'mpship serve' on a free loopback port,
# sets SERVE_PID and URL, and fails if it does not come up.
start_origin() {
	"$1" serve --store "$2" --listen 127.0.0.1:0 >"$3" 2>&1 &
	SERVE_PID=$!
	URL=""
	for _ in $(seq 1 100); do
		URL="$(sed -n 's/.* on \(http:[^ ]*\).*/\1/p' "$3" | head -n1)"
		[ -n "$URL" ] && return 0
		sleep 0.1
	done
	echo "origin did not start:" >&2
	cat "$3" >&2
	exit 1
}

stop_origin() {
	if [ -n "${SERVE_PID:-}" ]; then
		kill "$SERVE_PID" 2>/dev/null || true
		wait "$SERVE_PID" 2>/dev/null || true
		SERVE_PID=""
	fi
}

# package_sha JSON prints the blob sha256 of the first package in the output
# of 'mpship release --json'.
package_sha() {
	printf '%s\n' "$1" | sed -n 's/.*"path": "blobs\/sha256\/\([0-9a-f]*\)".*/\1/p' | head -n1
}
