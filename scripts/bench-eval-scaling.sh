#!/usr/bin/env bash
# Evaluation time per pipeline as one account grows: runs the release
# build of examples/bench_eval once per size (default 1000 2000 4000
# pipelines, all rules; a second argument after `--` limits the rules, as
# bench_eval's own does) and prints each size's time per pipeline and its
# ratio to the smallest size's, for the elapsed time (`ratio`) and for the
# CPU time (`cpu_ratio`: the one to read on a machine busy with other
# work). Flat means the ratios stay near 1.
#   scripts/bench-eval-scaling.sh [N...] [-- RULE_PREFIX]
# Not part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=()
prefix=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then
    shift
    prefix=("$@")
    break
  fi
  sizes+=("$1")
  shift
done
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 2000 4000)
cargo build --quiet --release --example bench_eval
bin=${CARGO_TARGET_DIR:-target}/release/examples/bench_eval
base=""
cpu_base=""
for n in "${sizes[@]}"; do
  line=$("$bin" "$n" "${prefix[@]}")
  us=$(sed -n 's/.*per_pipeline_us=\([0-9.]*\).*/\1/p' <<<"$line")
  cpu_us=$(sed -n 's/.*per_pipeline_cpu_us=\([0-9.]*\).*/\1/p' <<<"$line")
  [ -n "$base" ] || base=$us
  [ -n "$cpu_base" ] || cpu_base=$cpu_us
  ratio=$(awk -v a="$us" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
  cpu_ratio=$(awk -v a="$cpu_us" -v b="$cpu_base" 'BEGIN { printf "%.2f", a / b }')
  echo "$line ratio=$ratio cpu_ratio=$cpu_ratio"
done
