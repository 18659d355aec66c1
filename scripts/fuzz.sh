#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each) with
# libFuzzer through cargo-fuzz (nightly toolchain, `cargo install cargo-fuzz`).
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Corpora grow in fuzz/corpus/<target> (seeded from fuzz/seeds/<target>);
# a crashing input lands in fuzz/artifacts/<target>/: copy it to
# fuzz/regressions/<target>/ so that `cargo test` replays it for good.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(policy event_pattern snapshot rule_file)
# No sanitizer: the code under test forbids `unsafe`; libFuzzer still
# catches panics, stack overflows, timeouts and out-of-memory.
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  max_len=4096
  [ "$t" = snapshot ] && max_len=65536
  echo "== $t ($secs s)"
  cargo +nightly fuzz run -s none "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
    | grep -E "^(==|#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss|SUMMARY|.*panicked|.*deadly signal|artifact_prefix|Test unit written)" || true
  if ls "fuzz/artifacts/$t"/crash-* "fuzz/artifacts/$t"/timeout-* "fuzz/artifacts/$t"/oom-* >/dev/null 2>&1; then
    echo "!! $t: failing inputs in fuzz/artifacts/$t"
  fi
done
