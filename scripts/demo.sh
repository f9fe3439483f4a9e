#!/usr/bin/env bash
# The main job end to end on the embedded default, in a temporary directory,
# with no service and no network beyond loopback:
#   keygen -> release 1.0.0 -> serve -> device first install
#   -> 304 check -> release 1.1.0 -> device finds it -> device launches it.
set -euo pipefail

MPSHIP="${1:-bin/mpship}"
MPSHIP="$(cd "$(dirname "$MPSHIP")" && pwd)/$(basename "$MPSHIP")"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mpship-demo.XXXXXX")"
SERVE_PID=""
cleanup() {
	if [ -n "$SERVE_PID" ]; then kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
field() { # field JSON NAME: a top-level string or number field, without jq
	printf '%s' "$1" | tr -d '\n' | sed -n "s/.*\"$2\": *\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p"
}

step "keys"
"$MPSHIP" keygen --out "$WORK/keys"

step "release 1.0.0 of examples/hello"
cp -R "$ROOT/examples/hello" "$WORK/src"
"$MPSHIP" release --store "$WORK/bucket" --key "$WORK/keys/signing.key" \
	--app hello --channel stable --version 1.0.0 "$WORK/src"

step "serve the bucket on a free loopback port"
"$MPSHIP" serve --store "$WORK/bucket" --listen 127.0.0.1:0 >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 100); do
	URL="$(sed -n 's/.* on \(http:[^ ]*\).*/\1/p' "$WORK/serve.log" | head -n1)"
	[ -n "$URL" ] && break
	sleep 0.1
done
[ -n "$URL" ] || { echo "origin did not start:"; cat "$WORK/serve.log"; exit 1; }
echo "origin at $URL"

device() {
	"$MPSHIP" client launch --origin "$URL" --trust "$WORK/keys/signing.pub" \
		--state "$WORK/device" --app hello --channel stable --json
}

step "device: first launch (nothing installed)"
OUT="$(device)"; echo "$OUT"
[ "$(field "$OUT" launched_version)" = "1.0.0" ] || { echo "want launched 1.0.0"; exit 1; }

step "device: cold start, nothing new (one conditional GET, answered 304)"
OUT="$(device)"; echo "$OUT"
[ "$(field "$OUT" launched_version)" = "1.0.0" ] || { echo "want launched 1.0.0"; exit 1; }

step "release 1.1.0"
sed -i.bak "s/1.0.0/1.1.0/" "$WORK/src/utils/version.js" && rm -f "$WORK/src/utils/version.js.bak"
"$MPSHIP" release --store "$WORK/bucket" --key "$WORK/keys/signing.key" \
	--app hello --channel stable --version 1.1.0 "$WORK/src"

step "device: cold start launches 1.0.0 at once, downloads 1.1.0 in the background"
OUT="$(device)"; echo "$OUT"
[ "$(field "$OUT" launched_version)" = "1.0.0" ] || { echo "want launched 1.0.0"; exit 1; }
[ "$(field "$OUT" ready_version)" = "1.1.0" ] || { echo "want ready 1.1.0"; exit 1; }

step "device: next cold start launches 1.1.0"
OUT="$(device)"; echo "$OUT"
[ "$(field "$OUT" launched_version)" = "1.1.0" ] || { echo "want launched 1.1.0"; exit 1; }

step "verify the bucket"
"$MPSHIP" verify --store "$WORK/bucket" --trust "$WORK/keys/signing.pub"

step "origin access log"
cat "$WORK/serve.log"
printf '\ndemo: ok\n'
