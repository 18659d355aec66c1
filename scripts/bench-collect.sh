#!/usr/bin/env bash
# Collection benchmark: seed N reference stacks (default 200) into a fresh
# moto_server, then time `pipeaudit snapshot` at each concurrency given
# (default: 1 and 16) in one run, and print wall time, API calls and calls
# per pipeline. moto (a single Python process) bounds the absolute figures;
# compare the ratios.
#   scripts/bench-collect.sh [STACKS] [CONCURRENCY...]
set -euo pipefail
cd "$(dirname "$0")/.."
STACKS=${1:-200}
shift || true
LEVELS=("$@")
[ ${#LEVELS[@]} -gt 0 ] || LEVELS=(1 16)
cargo build --quiet --bin pipeaudit --example seed
source scripts/moto.sh
URL=$MOTO_URL
target/debug/examples/seed --endpoint-url "$URL" --stacks "$STACKS" --drift >/dev/null
OUT=$(mktemp -d)
printf '%-12s %10s %10s %16s\n' concurrency wall_s api_calls calls_per_pipeline
for c in "${LEVELS[@]}"; do
  start=$(date +%s.%N)
  target/debug/pipeaudit snapshot -q --region us-east-1 --endpoint-url "$URL" --concurrency "$c" -o "$OUT/s$c.json"
  end=$(date +%s.%N)
  python3 - "$OUT/s$c.json" "$c" "$start" "$end" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
calls = sum(s["api_calls"].values())
n = max(len(s["pipelines"]), 1)
print(f'{sys.argv[2]:<12} {float(sys.argv[4]) - float(sys.argv[3]):10.2f} {calls:10d} {calls / n:16.2f}')
PY
done
rm -rf "$OUT"
