#!/usr/bin/env bash
# Collection benchmark: seed N reference stacks (default 200) into a fresh
# moto_server, then time `pipeaudit snapshot` at each concurrency given
# (default: 1 and 16) in one run, and print wall time, API calls and calls
# per pipeline. moto (a single Python process) bounds the absolute figures;
# compare the ratios.
#   scripts/bench-collect.sh [STACKS] [CONCURRENCY...]
#
# Latency mode: every call goes through examples/latency_proxy.rs, which
# adds MS milliseconds to each request (like the round trip to a region),
# and each concurrency is timed without and with the delay:
#   scripts/bench-collect.sh --delay-ms 50 [STACKS] [CONCURRENCY...]
# It prints both terms of the target, calls x delay / concurrency and
# depth x delay, and moto's CPU time for each run. depth is measured first,
# in one run at --concurrency 1024 through the proxy in wave mode: answers
# are held until every request that arrived has been answered and none has
# arrived for DEPTH_QUIET_MS (default 1000), then released together; depth
# is the number of waves, i.e. the longest chain of requests each sent
# after the previous one was answered (see scripts/bench_calls.py). The
# quiet time must exceed the client's longest pause between an answer and
# the call it causes, or a round splits in two.
# PIPEAUDIT_BIN runs another binary (e.g. an older build) instead of
# target/debug/pipeaudit.
set -euo pipefail
cd "$(dirname "$0")/.."
DELAY=
if [ "${1:-}" = --delay-ms ]; then
  DELAY=${2:?--delay-ms needs milliseconds}
  shift 2
fi
STACKS=${1:-200}
shift || true
LEVELS=("$@")
[ ${#LEVELS[@]} -gt 0 ] || LEVELS=(1 16)
DEPTH_QUIET_MS=${DEPTH_QUIET_MS:-1000}
cargo build --quiet --bin pipeaudit --example seed --example latency_proxy
BIN=${PIPEAUDIT_BIN:-target/debug/pipeaudit}
source scripts/moto.sh
URL=$MOTO_URL
target/debug/examples/seed --endpoint-url "$URL" --stacks "$STACKS" --drift >/dev/null
OUT=$(mktemp -d)
PROXY_PID=
trap 'kill $MOTO_PID ${PROXY_PID:-} 2>/dev/null || true; rm -rf "$OUT"' EXIT

# Starts the proxy with log $1 and options $2...; sets PROXY_URL and PROXY_PID.
start_proxy() {
  local log=$1
  shift
  target/debug/examples/latency_proxy --upstream "$URL" --log "$log" "$@" >"$OUT/proxy.url" 2>>"$OUT/proxy.err" &
  PROXY_PID=$!
  for _ in $(seq 100); do [ -s "$OUT/proxy.url" ] && break; sleep 0.05; done
  PROXY_URL=$(head -1 "$OUT/proxy.url")
}
stop_proxy() {
  kill "$PROXY_PID" 2>/dev/null || true
  wait "$PROXY_PID" 2>/dev/null || true
  PROXY_PID=
  : >"$OUT/proxy.url"
}

# Times one snapshot: $1 endpoint, $2 concurrency, $3 output; sets WALL and MOTO_CPU.
snapshot() {
  local cpu0 start end
  cpu0=$(python3 scripts/bench_calls.py cpu "$MOTO_PID")
  start=$(date +%s.%N)
  "$BIN" snapshot -q --region us-east-1 --endpoint-url "$1" --concurrency "$2" -o "$3"
  end=$(date +%s.%N)
  WALL=$(python3 -c "print(f'{$end - $start:.2f}')")
  MOTO_CPU=$(python3 -c "print(f'{$(python3 scripts/bench_calls.py cpu "$MOTO_PID") - $cpu0:.2f}')")
}

# API calls and calls per pipeline of a snapshot.
calls() {
  python3 - "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
calls = sum(s["api_calls"].values())
print(calls, f'{calls / max(len(s["pipelines"]), 1):.2f}')
PY
}

if [ -z "$DELAY" ]; then
  printf '%-12s %10s %10s %16s %10s\n' concurrency wall_s api_calls calls_per_pipeline moto_cpu_s
  for c in "${LEVELS[@]}"; do
    snapshot "$URL" "$c" "$OUT/s$c.json"
    read -r n per <<<"$(calls "$OUT/s$c.json")"
    printf '%-12s %10s %10s %16s %10s\n' "$c" "$WALL" "$n" "$per" "$MOTO_CPU"
  done
  exit 0
fi

start_proxy "$OUT/depth.tsv" --waves-ms "$DEPTH_QUIET_MS"
snapshot "$PROXY_URL" 1024 "$OUT/depth.json"
stop_proxy
python3 scripts/bench_calls.py log "$OUT/depth.tsv" >"$OUT/depth.txt"
read -r _ DEPTH _ <"$OUT/depth.txt"
echo "depth: $DEPTH round trips (waves of answers at --concurrency 1024, ${DEPTH_QUIET_MS} ms quiet; run took ${WALL} s); the longest chain:"
echo "  $(sed -n 2p "$OUT/depth.txt")"
echo "delay: ${DELAY} ms per request; bound = max(calls x delay / concurrency, depth x delay)"
printf '%-12s %10s %10s %10s %10s %14s %12s %10s %11s %12s %12s\n' \
  concurrency wall_0ms_s wall_delay_s api_calls per_pipeline calls_x_d_c_s depth_x_d_s bound_s wall_bound moto_cpu_0_s moto_cpu_d_s
for c in "${LEVELS[@]}"; do
  start_proxy "$OUT/c$c-0.tsv"
  snapshot "$PROXY_URL" "$c" "$OUT/s$c-0.json"
  stop_proxy
  wall0=$WALL cpu0=$MOTO_CPU
  start_proxy "$OUT/c$c-d.tsv" --delay-ms "$DELAY"
  snapshot "$PROXY_URL" "$c" "$OUT/s$c-d.json"
  stop_proxy
  read -r n per <<<"$(calls "$OUT/s$c-d.json")"
  read -r proxied _ <<<"$(python3 scripts/bench_calls.py log "$OUT/c$c-d.tsv")"
  [ "$proxied" = "$n" ] || echo "note: the proxy saw $proxied requests at concurrency $c, the snapshot counts $n (retries or calls outside the count)" >&2
  python3 - "$c" "$wall0" "$WALL" "$n" "$per" "$DELAY" "$DEPTH" "$cpu0" "$MOTO_CPU" <<'PY'
import sys
c, wall0, wall, n, per, d, depth, cpu0, cpu = sys.argv[1:]
c, d = int(c), float(d) / 1000
wide = int(n) * d / c
deep = int(depth) * d
bound = max(wide, deep)
print(f'{c:<12} {wall0:>10} {wall:>10} {n:>10} {per:>10} {wide:14.2f} {deep:12.2f} {bound:10.2f} {float(wall) / bound:11.2f} {cpu0:>12} {cpu:>12}')
PY
done
if grep -q upstream "$OUT/proxy.err" 2>/dev/null; then
  echo "note: $(grep -c upstream "$OUT/proxy.err") request(s) could not be forwarded to moto and were answered 502:"
  sed 's/.*upstream: //' "$OUT/proxy.err" | grep -v '^latency_proxy' | sort | uniq -c | head -5
fi
