#!/usr/bin/env bash
# pipeaudit side by side with Prowler and Cloud Custodian: for each N given
# (default 50), seed N reference stacks into a fresh moto_server, then run
# one after another against it: a full pipeaudit audit, Prowler (checks of
# codebuild, s3 and kms; once with its default retries, once without) and
# Custodian (the read-only policies of scripts/custodian-policies.yml; once
# with its cache, once with --cache-period 0). Per tool it prints wall and
# CPU seconds, peak RSS, the CPU seconds moto spent serving it, the API
# calls (counted by examples/latency_proxy.rs in front of moto) and which
# seeded defects it reported (see scripts/bench_peers.py).
#   scripts/bench-peers.sh [N...]
# Prowler and Custodian are installed with pip on first use, each into its
# own venv under ${XDG_CACHE_HOME:-~/.cache}/pipeaudit-bench (Prowler takes
# about 2.3 GB). Environment: PIPEAUDIT_BIN (default target/debug/pipeaudit),
# PIPEAUDIT_OLD_BIN (an older build run too, its findings compared),
# BENCH_TOOLS (e.g. pipeaudit,custodian: run only these).
# Not part of the tests. Every tool talks to moto on loopback with test
# credentials only.
set -euo pipefail
cd "$(dirname "$0")/.."
export PROWLER_VERSION=5.46.0 C7N_VERSION=0.9.53
export BENCH_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/pipeaudit-bench
export PIPEAUDIT_BIN=${PIPEAUDIT_BIN:-target/debug/pipeaudit}
[ $# -gt 0 ] || set -- 50
cargo build --quiet --bin pipeaudit --example seed --example latency_proxy

# Installs package $2 version $3 into venv $1 unless it is there.
venv() {
  local dir=$BENCH_DIR/$1
  if ! "$dir/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$2') != '$3')" 2>/dev/null; then
    echo "installing $2 $3 into $dir" >&2
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$2==$3"
  fi
}
mkdir -p "$BENCH_DIR"
venv "prowler-$PROWLER_VERSION" prowler "$PROWLER_VERSION"
venv "c7n-$C7N_VERSION" c7n "$C7N_VERSION"

for n in "$@"; do
  (
    source scripts/moto.sh
    WORK=$(mktemp -d)
    trap 'kill $MOTO_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
    echo "== $n stacks"
    target/debug/examples/seed --endpoint-url "$MOTO_URL" --stacks "$n" --drift >"$WORK/seed.txt"
    # the Custodian venv's Python has boto3, which maps key ids to stacks by alias
    "$BENCH_DIR/c7n-$C7N_VERSION/bin/python" scripts/bench_peers.py "$MOTO_URL" "$MOTO_PID" "$WORK/seed.txt" "$WORK"
  )
done
