#!/usr/bin/env bash
# make bench-delta: mpship's full packages and deltas side by side with
# zstd -19 --long, zstd --patch-from, bsdiff and xdelta3 -9, in one run, on
# every consecutive pair of the vant-weapp releases in ../shared/data/vant-weapp
# (relative to the repository root) and on three synthetic cases (a one-line
# change in a 2 MB file, a renamed directory, a 20 MB package with one image
# replaced). Prints the tables: sizes, ratio to the best peer, make and apply
# times and peak memory (see internal/benchdelta). Sizes are exact and
# reproducible; times depend on the machine and what else runs on it.
#
# Settings (environment):
#   BENCH_DATA   directory of vant-weapp-<version>.tgz (default ../shared/data/vant-weapp)
#   BENCH_RUNS   runs of each make and apply, the fastest reported (default 3)
#
# Needs zstd, bsdiff (with bspatch), xdelta3 and GNU time (for peak memory): as
# root on Debian it installs what is missing (apt-get install zstd bsdiff
# xdelta3 time); otherwise it says what to install. A run takes two to four minutes; its files are removed on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
GO="${GO:-go}"
DATA="${BENCH_DATA:-../shared/data/vant-weapp}"
RUNS="${BENCH_RUNS:-3}"

missing=()
for tool in zstd bsdiff bspatch xdelta3 /usr/bin/time; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "bench-delta: installing zstd bsdiff xdelta3 time (missing: ${missing[*]})" >&2
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zstd bsdiff xdelta3 time >/dev/null
	else
		echo "bench-delta: missing ${missing[*]}: install the Debian packages zstd, bsdiff, xdelta3 and time (as root: apt-get install zstd bsdiff xdelta3 time)" >&2
		exit 1
	fi
fi

BIN="$(mktemp -d)"
trap 'rm -rf "$BIN"' EXIT
"$GO" build -trimpath -o "$BIN/benchdelta" ./internal/benchdelta
echo "bench-delta: $(zstd --version | head -n1); bsdiff $(dpkg-query -W -f='${Version}' bsdiff 2>/dev/null || echo '?'); $(xdelta3 -V 2>&1 | head -n1)" >&2
"$BIN/benchdelta" -data "$DATA" -runs "$RUNS"
