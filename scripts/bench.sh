#!/usr/bin/env bash
# make bench: the origin ('mpship serve') side by side with its peer, nginx,
# serving the same bucket directory with the same Cache-Control headers, under
# the same load from wrk, on loopback only. Results are ratios and are printed,
# never asserted: speed depends on the machine, and wrk shares its CPUs with
# the server under test.
#
# Scenarios, each BENCH_ROUNDS fixed-length wrk runs against each server,
# alternating which server goes first:
#   304    conditional GET of a channel manifest (If-None-Match: its ETag)
#   1KB    200 of the channel manifest
#   100KB  200 of the code package of a vant-weapp release
#   1MiB   200 of a 1 MiB package (a release of one incompressible file)
#   range  206 of 64 KiB from the middle of that 1 MiB package
# Reported per scenario: median requests/s and p99 latency, and the server's
# CPU time per request (from /proc: less sensitive to whatever else runs on the
# machine than requests/s). Each access-log setting (BENCH_LOGS) gets fresh
# server processes, so their peak RSS (VmHWM) belongs to that setting alone.
# Also printed: the header bytes of one 304 from each server. With the
# defaults a run takes about 4 to 5 minutes.
#
# Settings (environment):
#   BENCH_DURATION     seconds of each wrk run (default 3)
#   BENCH_ROUNDS       runs per scenario and server; the median is reported (default 3)
#   BENCH_THREADS      wrk threads (default 2)
#   BENCH_CONNECTIONS  wrk connections, kept alive (default 32)
#   BENCH_LOGS         access-log settings to run: "on off" (default), "on", "off"
#   BENCH_GOMAXPROCS   GOMAXPROCS of mpship (default: the number of CPUs; nginx
#                      runs "worker_processes auto", one worker per CPU)
#   BENCH_VERSION      vant-weapp version released for the 100KB case (default 1.11.7)
#   BENCH_MICRO        1 (default) also runs the Go micro-benchmarks; 0 skips them
#
# Needs nginx, wrk and curl: as root on Debian it installs what is missing
# (apt-get install nginx-light wrk curl); otherwise it says what to install.
# Everything it starts is stopped, and everything it writes removed, on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
GO="${GO:-go}"
DURATION="${BENCH_DURATION:-3}"
ROUNDS="${BENCH_ROUNDS:-3}"
THREADS="${BENCH_THREADS:-2}"
CONNS="${BENCH_CONNECTIONS:-32}"
LOGS="${BENCH_LOGS:-on off}"
CPUS="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)"
GOMAXPROCS_BENCH="${BENCH_GOMAXPROCS:-$CPUS}"
VERSION="${BENCH_VERSION:-1.11.7}"
MICRO="${BENCH_MICRO:-1}"
DATA="$ROOT/../shared/data/vant-weapp/vant-weapp-$VERSION.tgz"
PATH="$PATH:/usr/sbin:/sbin"

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

for v in "$DURATION" "$ROUNDS" "$THREADS" "$CONNS" "$GOMAXPROCS_BENCH"; do
	case "$v" in '' | *[!0-9]* | 0) die "BENCH_DURATION, BENCH_THREADS, BENCH_CONNECTIONS and BENCH_GOMAXPROCS must be positive integers (BENCH_ROUNDS too), got '$v'" ;; esac
done
for l in $LOGS; do
	case "$l" in on | off) ;; *) die "BENCH_LOGS: got '$LOGS', want a list of 'on' and 'off'" ;; esac
done
[ -f "$DATA" ] || die "missing $DATA: the vant-weapp release archives are expected in ../shared/data/vant-weapp next to the repository (or set BENCH_VERSION)"

# --- tools --------------------------------------------------------------

POLICY_RC=""   # set when we created /usr/sbin/policy-rc.d and must remove it
WORK=""
MPSHIP_PID=""
NGINX_PID=""
NGINX_WORKERS=""

# children_of PID prints the PIDs whose parent is PID (from /proc, no procps).
children_of() {
	local f line x
	for f in /proc/[0-9]*/stat; do
		line="$(cat "$f" 2>/dev/null)" || continue
		read -ra x <<<"${line##*) }" # after the command name: state ppid ...
		if [ "${x[1]:-}" = "$1" ]; then
			f="${f#/proc/}"
			printf '%s\n' "${f%/stat}"
		fi
	done
}

stop_mpship() {
	[ -n "$MPSHIP_PID" ] || return 0
	kill -TERM "$MPSHIP_PID" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$MPSHIP_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$MPSHIP_PID" 2>/dev/null || true
	wait "$MPSHIP_PID" 2>/dev/null || true
	MPSHIP_PID=""
}

stop_nginx() {
	[ -n "$NGINX_PID" ] || return 0
	local w
	NGINX_WORKERS="$NGINX_WORKERS $(children_of "$NGINX_PID")"
	kill -TERM "$NGINX_PID" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$NGINX_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$NGINX_PID" 2>/dev/null || true
	wait "$NGINX_PID" 2>/dev/null || true
	# Workers outlive a killed master: stop the ones we saw, if still nginx.
	for w in $NGINX_WORKERS; do
		if grep -q '^nginx' "/proc/$w/cmdline" 2>/dev/null; then
			kill -KILL "$w" 2>/dev/null || true
		fi
	done
	NGINX_PID=""
	NGINX_WORKERS=""
}

cleanup() {
	set +e
	stop_mpship
	stop_nginx
	[ -n "$POLICY_RC" ] && rm -f "$POLICY_RC"
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

install_missing() {
	local missing=() pkgs=()
	command -v nginx >/dev/null 2>&1 || { missing+=(nginx); pkgs+=(nginx-light); }
	command -v wrk >/dev/null 2>&1 || { missing+=(wrk); pkgs+=(wrk); }
	command -v curl >/dev/null 2>&1 || { missing+=(curl); pkgs+=(curl); }
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		die "missing ${missing[*]}; install them (Debian: sudo apt-get install ${pkgs[*]}) and run again"
	fi
	# Installing nginx must not start a system nginx on port 80: without a
	# policy-rc.d, add one that forbids starting services, for the install only.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		POLICY_RC=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
		chmod 755 "$POLICY_RC"
	fi
	say "bench: installing ${pkgs[*]}"
	apt-get update -qq
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >&2; then
		# Releases where nginx-light is gone: the plain package.
		pkgs=("${pkgs[@]/nginx-light/nginx}")
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >&2
	fi
	if [ -n "$POLICY_RC" ]; then
		rm -f "$POLICY_RC"
		POLICY_RC=""
	fi
	for t in nginx wrk curl; do
		command -v "$t" >/dev/null 2>&1 || die "$t still missing after apt-get install"
	done
}
install_missing

# --- the bucket ---------------------------------------------------------

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mpship-bench.XXXXXX")"
MPSHIP="$ROOT/bin/mpship"
say "bench: building $MPSHIP"
"$GO" build -trimpath -o "$MPSHIP" ./cmd/mpship
. "$ROOT/scripts/lib.sh"

BUCKET="$WORK/bucket"
"$MPSHIP" keygen --out "$WORK/keys" >/dev/null
mkdir -p "$WORK/src" "$WORK/big"
tar xzf "$DATA" -C "$WORK/src"
OUT="$("$MPSHIP" release --store "$BUCKET" --key "$WORK/keys/signing.key" --json \
	--app com.example.vant --channel stable --version "$VERSION" "$WORK/src/package")"
PKG="blobs/sha256/$(package_sha "$OUT")"
head -c 1048576 /dev/urandom >"$WORK/big/random.bin"
OUT="$("$MPSHIP" release --store "$BUCKET" --key "$WORK/keys/signing.key" --json \
	--app com.example.big --channel stable --version 1.0.0 "$WORK/big")"
BIG="blobs/sha256/$(package_sha "$OUT")"
CHANNEL="apps/com.example.vant/channels/stable.json"
for k in "$CHANNEL" "$PKG" "$BIG"; do
	[ -f "$BUCKET/$k" ] || die "release did not write $k"
done
# nginx workers run as an unprivileged user: let them read the bucket.
chmod 755 "$WORK"
chmod -R a+rX "$BUCKET"
size_of() { wc -c <"$BUCKET/$1" | tr -d ' '; }
BIG_SIZE="$(size_of "$BIG")"
RANGE_FROM=$((BIG_SIZE / 2 - 32768))
RANGE_TO=$((RANGE_FROM + 65535))

# --- servers ------------------------------------------------------------

# start_mpship on|off: 'mpship serve' on a free loopback port; sets MPSHIP_URL.
start_mpship() {
	# One file per start: the shell may read before the new process
	# truncates a file that an earlier one wrote.
	local out="$WORK/mpship-$1.out" log=/dev/null
	[ "$1" = off ] && log="$WORK/mpship-$1.err"
	GOMAXPROCS="$GOMAXPROCS_BENCH" "$MPSHIP" serve --store "$BUCKET" --listen 127.0.0.1:0 \
		--access-log="$([ "$1" = on ] && echo true || echo false)" --shutdown-timeout 2s \
		>"$out" 2>"$log" &
	MPSHIP_PID=$!
	MPSHIP_URL=""
	for _ in $(seq 1 100); do
		MPSHIP_URL="$(sed -n 's/.* on \(http:[^ ]*\).*/\1/p' "$out" 2>/dev/null | head -n1)"
		[ -n "$MPSHIP_URL" ] && return 0
		kill -0 "$MPSHIP_PID" 2>/dev/null || break
		sleep 0.1
	done
	die "mpship serve did not start: $(cat "$out" "$log" 2>/dev/null)"
}

# header NAME URL prints a response header of mpship, to give nginx the same.
header() {
	local h
	h="$(curl -sS -o /dev/null -D - "$2")" || die "GET $2 failed"
	printf '%s\n' "$h" | tr -d '\r' | sed -n "s/^$1: //Ip" | head -n1
}

# nginx_conf PORT ACCESS_LOG writes the nginx configuration: the bucket as
# root, the layout's Content-Type and Cache-Control (copied from mpship's
# answers), nosniff, keep-alive without a request limit (as Go's server).
nginx_conf() {
	local ng="$WORK/nginx" temp m v
	temp="client_body_temp_path $ng/tmp/body;"
	v="$(nginx -V 2>&1)"
	for m in proxy fastcgi uwsgi scgi; do
		case "$v" in *"--without-http_${m}_module"*) ;; *) temp="$temp ${m}_temp_path $ng/tmp/$m;" ;; esac
	done
	cat >"$ng/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes auto;
pid $ng/nginx.pid;
error_log $ng/error.log warn;
events { worker_connections 4096; }
http {
	access_log $2;
	$temp
	sendfile on;
	tcp_nopush on;
	etag on;
	keepalive_timeout 120s;
	keepalive_requests 1000000000;
	types { }
	charset off;
	server {
		listen 127.0.0.1:$1;
		root $BUCKET;
		location ~ ^/apps/[^/]+/channels/[^/]+\.json\$ {
			default_type "$CT_CHANNEL";
			add_header Cache-Control "$CC_CHANNEL";
			add_header X-Content-Type-Options nosniff;
		}
		location /blobs/sha256/ {
			default_type "$CT_BLOB";
			add_header Cache-Control "$CC_BLOB";
			add_header X-Content-Type-Options nosniff;
		}
		location / { return 404; }
	}
}
EOF
}

# start_nginx on|off: nginx on a free loopback port; sets NGINX_URL.
start_nginx() {
	local access=off port try
	[ "$1" = on ] && access=/dev/null
	mkdir -p "$WORK/nginx/tmp"
	for try in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
		nginx_conf "$port" "$access"
		nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" 2>>"$WORK/nginx/error.log" &
		NGINX_PID=$!
		NGINX_URL="http://127.0.0.1:$port"
		for _ in $(seq 1 50); do
			kill -0 "$NGINX_PID" 2>/dev/null || break
			if [ "$(curl -s -o /dev/null -w '%{http_code}' "$NGINX_URL/$CHANNEL")" = 200 ]; then
				return 0
			fi
			sleep 0.1
		done
		stop_nginx
	done
	die "nginx did not start: $(cat "$WORK/nginx/error.log")"
}

# peak_rss PID... prints the sum of the processes' VmHWM in KiB.
peak_rss() {
	local sum=0 p kb
	for p in "$@"; do
		kb="$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$p/status" 2>/dev/null)"
		sum=$((sum + ${kb:-0}))
	done
	echo "$sum"
}

# --- load ---------------------------------------------------------------

cat >"$WORK/report.lua" <<'EOF'
-- Prints one machine-readable line when wrk is done; adds nothing per request.
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
		summary.bytes, e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(99)))
end
EOF

FAILED=0
WRK_CMD="wrk -t$THREADS -c$CONNS -d${DURATION}s --timeout 5s -s report.lua [-H HEADER] URL"
HZ="$(getconf CLK_TCK)"

# check NAME URL WANT_STATUS WANT_BYTES [curl args]: one request by curl must
# answer WANT_STATUS with a body of WANT_BYTES, or the run measures nothing.
check() {
	local got
	got="$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "${@:5}" "$2")"
	[ "$got" = "$3 $4" ] || die "$1: $2 answered '$got', want '$3 $4' (status, body bytes)"
}

# cpu_ticks PID... prints the CPU time (user + system, all threads) the
# processes used so far, in clock ticks.
cpu_ticks() {
	local sum=0 p line f
	for p in "$@"; do
		line="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
		# After the command name: state ppid pgrp session tty tpgid flags
		# minflt cminflt majflt cmajflt utime stime ...
		read -ra f <<<"${line##*) }"
		sum=$((sum + f[11] + f[12]))
	done
	echo "$sum"
}

# load NAME URL BODY [wrk args]: runs wrk; sets RPS, P99_US, ERRS, REQS.
load() {
	local name="$1" url="$2" body="$3" line dur bytes sockerr staterr per
	shift 3
	say "  $name: wrk -t$THREADS -c$CONNS -d${DURATION}s --timeout 5s -s report.lua $(printf '%q ' "$@")$url"
	line="$(timeout $((DURATION + 60)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s \
		-s "$WORK/report.lua" "$@" "$url" | grep '^RESULT ' || true)"
	[ -n "$line" ] || die "$name: wrk printed no result"
	read -r _ REQS dur bytes sockerr staterr P99_US <<<"$line"
	[ "$REQS" -gt 0 ] || die "$name: no request completed"
	RPS=$((REQS * 1000000 / dur))
	ERRS=$((sockerr + staterr))
	# Every answer must be what curl saw: the body plus under 1 KiB of
	# headers. wrk also counts the bytes of the answers still in flight
	# when it stops (up to one per connection), but not those requests.
	per=$((bytes / REQS))
	if [ "$staterr" -gt 0 ] || [ "$per" -lt "$body" ] ||
		[ "$per" -gt $((body + 1024 + CONNS * (body + 1024) / REQS)) ]; then
		say "bench: $name: $staterr non-2xx/3xx answers, $per bytes per answer (want $body + headers)"
		FAILED=1
	fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# median N... prints the median (the lower of the middle two for an even count).
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }

RESULTS=""
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
for mode in $LOGS; do
	say ""
	say "bench: access log $mode"
	start_mpship "$mode"
	CT_CHANNEL="$(header Content-Type "$MPSHIP_URL/$CHANNEL")"
	CC_CHANNEL="$(header Cache-Control "$MPSHIP_URL/$CHANNEL")"
	CT_BLOB="$(header Content-Type "$MPSHIP_URL/$PKG")"
	CC_BLOB="$(header Cache-Control "$MPSHIP_URL/$PKG")"
	start_nginx "$mode"
	NGINX_WORKERS="$(children_of "$NGINX_PID")"

	M_ETAG="$(header ETag "$MPSHIP_URL/$CHANNEL")"
	N_ETAG="$(header ETag "$NGINX_URL/$CHANNEL")"
	for s in M N; do
		if [ "$s" = M ]; then u="$MPSHIP_URL"; e="$M_ETAG"; else u="$NGINX_URL"; e="$N_ETAG"; fi
		check "304 $s" "$u/$CHANNEL" 304 0 -H "If-None-Match: $e"
		check "1KB $s" "$u/$CHANNEL" 200 "$(size_of "$CHANNEL")"
		check "100KB $s" "$u/$PKG" 200 "$(size_of "$PKG")"
		check "1MiB $s" "$u/$BIG" 200 "$BIG_SIZE"
		check "range $s" "$u/$BIG" 206 65536 -H "Range: bytes=$RANGE_FROM-$RANGE_TO"
		for h in Content-Type Cache-Control X-Content-Type-Options; do
			[ "$(header "$h" "$u/$PKG")" = "$(header "$h" "$MPSHIP_URL/$PKG")" ] || die "nginx and mpship differ in $h"
		done
	done
	# Warm-up, not reported: one second on each object per server.
	for u in "$MPSHIP_URL" "$NGINX_URL"; do
		for k in "$CHANNEL" "$PKG" "$BIG"; do
			timeout 60 wrk -t"$THREADS" -c"$CONNS" -d1s "$u/$k" >/dev/null
		done
	done
	M_304="$(curl -s -o /dev/null -w '%{size_header}' -H "If-None-Match: $M_ETAG" "$MPSHIP_URL/$CHANNEL")"
	N_304="$(curl -s -o /dev/null -w '%{size_header}' -H "If-None-Match: $N_ETAG" "$NGINX_URL/$CHANNEL")"

	TABLE="| scenario | mpship req/s | nginx req/s | mpship/nginx | mpship p99 ms | nginx p99 ms | mpship CPU µs/req | nginx CPU µs/req | errors m/n |
|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for sc in 304 1KB 100KB 1MiB range; do
		M_RPSL="" N_RPSL="" M_P99L="" N_P99L="" M_REQS=0 N_REQS=0 M_TICKS=0 N_TICKS=0 M_ERRS=0 N_ERRS=0
		for round in $(seq 1 "$ROUNDS"); do
			# Alternate who goes first, so that a change in the machine's
			# other load does not always fall on the same server.
			order="M N"
			[ $((round % 2)) = 0 ] && order="N M"
			for s in $order; do
				if [ "$s" = M ]; then
					u="$MPSHIP_URL" e="$M_ETAG" pids="$MPSHIP_PID"
				else
					u="$NGINX_URL" e="$N_ETAG" pids="$NGINX_PID $NGINX_WORKERS"
				fi
				t0="$(cpu_ticks $pids)"
				case "$sc" in
				304) load "$sc $s" "$u/$CHANNEL" 0 -H "If-None-Match: $e" ;;
				1KB) load "$sc $s" "$u/$CHANNEL" "$(size_of "$CHANNEL")" ;;
				100KB) load "$sc $s" "$u/$PKG" "$(size_of "$PKG")" ;;
				1MiB) load "$sc $s" "$u/$BIG" "$BIG_SIZE" ;;
				range) load "$sc $s" "$u/$BIG" 65536 -H "Range: bytes=$RANGE_FROM-$RANGE_TO" ;;
				esac
				t1="$(cpu_ticks $pids)"
				eval "${s}_RPSL=\"\$${s}_RPSL $RPS\" ${s}_P99L=\"\$${s}_P99L $P99_US\""
				eval "${s}_REQS=\$((${s}_REQS + REQS)) ${s}_TICKS=\$((${s}_TICKS + t1 - t0)) ${s}_ERRS=\$((${s}_ERRS + ERRS))"
			done
		done
		M_RPS="$(median $M_RPSL)" N_RPS="$(median $N_RPSL)"
		M_CPU=$((M_TICKS * 1000000 / HZ / M_REQS)) N_CPU=$((N_TICKS * 1000000 / HZ / N_REQS))
		TABLE="$TABLE
| $sc | $M_RPS | $N_RPS | $(ratio "$M_RPS" "$N_RPS") | $(ms "$(median $M_P99L)") | $(ms "$(median $N_P99L)") | $M_CPU | $N_CPU | $M_ERRS/$N_ERRS |"
	done

	M_RSS="$(peak_rss "$MPSHIP_PID")"
	N_RSS="$(peak_rss "$NGINX_PID" $NGINX_WORKERS)"
	N_PROCS=$((1 + $(echo $NGINX_WORKERS | wc -w)))
	RESULTS="$RESULTS
### access log $mode
$([ "$mode" = on ] && echo "mpship's default, to /dev/null; nginx access_log /dev/null: both write one line per request" || echo "mpship --access-log=false; nginx access_log off")

$TABLE

| | mpship | nginx |
|---|---:|---:|
| header bytes of a 304 | $M_304 | $N_304 |
| peak RSS (VmHWM) | $((M_RSS / 1024)) MiB | $((N_RSS / 1024)) MiB ($N_PROCS processes, summed) |
"
	stop_mpship
	stop_nginx
done
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

cat <<EOF

## mpship serve vs nginx, loopback

command: make bench (scripts/bench.sh), BENCH_DURATION=$DURATION BENCH_ROUNDS=$ROUNDS BENCH_THREADS=$THREADS BENCH_CONNECTIONS=$CONNS BENCH_GOMAXPROCS=$GOMAXPROCS_BENCH
each run: $WRK_CMD
req/s and p99: median of $ROUNDS runs per server; CPU µs/req: the server's user+system time over all its runs / requests answered
load average before / after: $LOAD_BEFORE / $LOAD_AFTER (anything else running skews req/s; CPU µs/req much less)
machine: $CPUS CPUs, $(uname -sr); $("$GO" version | cut -d' ' -f3); $(nginx -v 2>&1 | sed 's/.*: //') (worker_processes auto); $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)
objects: channel manifest $(size_of "$CHANNEL") B, vant-weapp $VERSION package $(size_of "$PKG") B, 1 MiB package $BIG_SIZE B, range bytes=$RANGE_FROM-$RANGE_TO
$RESULTS
EOF

if [ "$MICRO" = 1 ]; then
	printf '\n## Go micro-benchmarks\n\ncommand: go test -bench . -run '"'"'^\$'"'"' ./origin ./manifests ./internal/archive\n\n'
	"$GO" test -bench . -run '^$' ./origin ./manifests ./internal/archive
fi

if [ "$FAILED" = 1 ]; then
	die "some runs got answers other than the ones expected (see above): their numbers are not comparable"
fi
