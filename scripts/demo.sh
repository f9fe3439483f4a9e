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
. "$ROOT/scripts/lib.sh"
cleanup() { stop_origin; rm -rf "$WORK"; }
trap cleanup EXIT

step "keys"
"$MPSHIP" keygen --out "$WORK/keys"

step "release 1.0.0 of examples/hello"
cp -R "$ROOT/examples/hello" "$WORK/src"
"$MPSHIP" release --store "$WORK/bucket" --key "$WORK/keys/signing.key" \
	--app hello --channel stable --version 1.0.0 "$WORK/src"

step "serve the bucket on a free loopback port"
start_origin "$MPSHIP" "$WORK/bucket" "$WORK/serve.log"
echo "origin at $URL"

device() {
	"$MPSHIP" client launch --origin "$URL" --trust "$WORK/keys/signing.pub" \
		--state "$WORK/device" --app hello --channel stable --json
}

step "device: first launch (nothing installed)"
OUT="$(device)"; echo "$OUT"
expect launched_version "$(field "$OUT" launched_version)" 1.0.0

step "device: cold start, nothing new (one conditional GET, answered 304)"
OUT="$(device)"; echo "$OUT"
expect launched_version "$(field "$OUT" launched_version)" 1.0.0

step "release 1.1.0"
sed -i.bak "s/1.0.0/1.1.0/" "$WORK/src/utils/version.js" && rm -f "$WORK/src/utils/version.js.bak"
"$MPSHIP" release --store "$WORK/bucket" --key "$WORK/keys/signing.key" \
	--app hello --channel stable --version 1.1.0 "$WORK/src"

step "device: cold start launches 1.0.0 at once, downloads 1.1.0 in the background"
OUT="$(device)"; echo "$OUT"
expect launched_version "$(field "$OUT" launched_version)" 1.0.0
expect ready_version "$(field "$OUT" ready_version)" 1.1.0

step "device: next cold start launches 1.1.0"
OUT="$(device)"; echo "$OUT"
expect launched_version "$(field "$OUT" launched_version)" 1.1.0

step "verify the bucket"
"$MPSHIP" verify --store "$WORK/bucket" --trust "$WORK/keys/signing.pub"

step "origin access log"
cat "$WORK/serve.log"
printf '\ndemo: ok\n'
