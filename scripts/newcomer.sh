#!/usr/bin/env bash
# The newcomer's walk-through, scripted and checked, with real processes and
# real mini-program code: keygen, two releases, serve, device launches, a curl
# conditional GET of the channel manifest, tampering, and a reproducible
# release. Usage: scripts/newcomer.sh MPSHIP DATA_DIR
# where DATA_DIR holds vant-weapp-1.11.6.tgz and vant-weapp-1.11.7.tgz.
set -euo pipefail

MPSHIP="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
DATA="$(cd "$2" && pwd)"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mpship-newcomer.XXXXXX")"
. "$ROOT/scripts/lib.sh"
cleanup() { stop_origin; rm -rf "$WORK"; }
trap cleanup EXIT

for v in 1.11.6 1.11.7; do
	mkdir -p "$WORK/src-$v"
	tar xzf "$DATA/vant-weapp-$v.tgz" -C "$WORK/src-$v"
done
BUCKET="$WORK/bucket"
release() { # release CHANNEL VERSION SRC [FLAG...]
	"$MPSHIP" release --store "$BUCKET" --key "$WORK/keys/signing.key" \
		--app vant --channel "$1" --version "$2" --json "${@:4}" "$3"
}
device() {
	"$MPSHIP" client launch --origin "$URL" --trust "$WORK/keys/signing.pub" \
		--state "$WORK/device" --app vant --channel stable --json
}

step "keygen"
"$MPSHIP" keygen --out "$WORK/keys"

step "release 1.11.6"
OUT="$(release stable 1.11.6 "$WORK/src-1.11.6/package")"
SHA_1116="$(package_sha "$OUT")"
echo "package sha256 $SHA_1116"

step "serve"
start_origin "$MPSHIP" "$BUCKET" "$WORK/serve.log"
echo "origin at $URL"

step "launch 1: first install"
OUT="$(device)"
expect mode "$(field "$OUT" mode)" first-install
expect launched_version "$(field "$OUT" launched_version)" 1.11.6
expect error "$(field "$OUT" error)" ""

step "curl: conditional GET of the channel manifest"
CHANNEL_URL="$URL/apps/vant/channels/stable.json"
ETAG="$(curl -sfI "$CHANNEL_URL" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')"
echo "ETag: $ETAG"
read -r CODE HEADER_BYTES BODY_BYTES < <(curl -s -o /dev/null -H "If-None-Match: $ETAG" \
	-w '%{http_code} %{size_header} %{size_download}\n' "$CHANNEL_URL")
expect "conditional GET status" "$CODE" 304
expect "304 body bytes" "$BODY_BYTES" 0
[ "$HEADER_BYTES" -lt 400 ] || { echo "FAIL: 304 is $HEADER_BYTES bytes on the wire, want < 400" >&2; exit 1; }
echo "ok: 304 is $HEADER_BYTES bytes on the wire"

step "launch 2: nothing new, one request answered 304"
OUT="$(device)"
expect launched_version "$(field "$OUT" launched_version)" 1.11.6
expect requests "$(field "$OUT" requests)" 1
BYTES="$(field "$OUT" bytes_downloaded)"
[ "$BYTES" -lt 400 ] || { echo "FAIL: no-update check downloaded $BYTES bytes, want < 400" >&2; exit 1; }
echo "ok: no-update check downloaded $BYTES bytes"

step "release 1.11.7"
release stable 1.11.7 "$WORK/src-1.11.7/package" >/dev/null

step "launch 3: launches 1.11.6 at once, 1.11.7 ready after it"
OUT="$(device)"
expect launched_version "$(field "$OUT" launched_version)" 1.11.6
expect ready_version "$(field "$OUT" ready_version)" 1.11.7

step "launch 4: launches 1.11.7"
OUT="$(device)"
expect launched_version "$(field "$OUT" launched_version)" 1.11.7

step "tampered channel manifest: the device stays on 1.11.7 and names the error"
MANIFEST="$BUCKET/apps/vant/channels/stable.json"
cp "$MANIFEST" "$WORK/stable.json.orig"
# Flip one character of the base64 payload: the signature no longer matches.
sed -i 's/"payload": "e/"payload": "f/' "$MANIFEST"
OUT="$(device)"
expect launched_version "$(field "$OUT" launched_version)" 1.11.7
expect error_code "$(field "$OUT" error_code)" bad_signature
cp "$WORK/stable.json.orig" "$MANIFEST"

step "tampered blob: the device stays on 1.11.7 and names the error"
echo "// hotfix" >>"$WORK/src-1.11.6/package/package.json"
# No deltas: the device holds 1.11.6 and would take one instead of the blob.
OUT="$(release stable 1.12.0 "$WORK/src-1.11.6/package" --deltas 0)"
BLOB="$BUCKET/blobs/sha256/$(package_sha "$OUT")"
printf 'X' | dd of="$BLOB" bs=1 seek=100 conv=notrunc status=none
OUT="$(device)"
expect launched_version "$(field "$OUT" launched_version)" 1.11.7
expect ready_version "$(field "$OUT" ready_version)" ""
expect error_code "$(field "$OUT" error_code)" hash_mismatch
OUT="$(device)"
expect "launched_version after a second try" "$(field "$OUT" launched_version)" 1.11.7

step "releasing the same tree twice gives the same package"
OUT="$(release beta 2.0.0 "$WORK/src-1.11.7/package")"
OUT2="$(release beta 2.0.1 "$WORK/src-1.11.7/package")"
expect "package sha256 of the same tree" "$(package_sha "$OUT2")" "$(package_sha "$OUT")"
expect "blobs uploaded the second time" "$(field "$OUT2" uploaded)" 0

printf '\nnewcomer walk-through: ok\n'
