#!/usr/bin/env bash
# Checks the HTML report and the Markdown summary's Mermaid diagrams in a
# real browser: Debian's headless Chromium (installed from the system
# packages when missing; as root, as CI runs), driven over the DevTools
# protocol by playwright-core from npm, which downloads no browser. The npm
# packages are pinned by scripts/browser-check/package-lock.json and
# installed once into target/browser-check/, reinstalled only when the lock
# changes. See scripts/browser-check/check.cjs for what is checked.
#   scripts/browser-check.sh
# It also opens the report and diagrams of the crafted snapshot of
# tests/fixtures/hostile/names.json (scripts/browser-check/hostile.cjs).
# Writes target/browser-check/html-report.png (the top of the demo's
# report), html-report-pipeline.png (one pipeline) and big-report.txt (size
# and render time of the report of 1,000 pipelines).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/browser-check
mkdir -p "$OUT"
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] || ! command -v node >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "browser-check: needs $CHROMIUM and node (apt-get install chromium chromium-driver nodejs npm, as root)" >&2
    exit 1
  fi
  echo "browser-check: installing Chromium from the system packages" >&2
  apt-get update -qq
  pkgs=(chromium chromium-driver)
  command -v node >/dev/null || pkgs+=(nodejs npm)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
cp scripts/browser-check/package.json scripts/browser-check/package-lock.json scripts/browser-check/check.cjs scripts/browser-check/hostile.cjs "$OUT/"
LOCK_SUM=$(sha256sum scripts/browser-check/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$OUT/node_modules/.lock-sum" 2>/dev/null)" != "$LOCK_SUM" ]; then
  echo "browser-check: installing the pinned npm packages into $OUT" >&2
  (cd "$OUT" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
  echo "$LOCK_SUM" >"$OUT/node_modules/.lock-sum"
fi
cargo build --quiet --bin pipeaudit --example big_snapshot
BIN=target/debug/pipeaudit
# An audit with findings exits 1: that is the expected outcome here (the
# crafted snapshot's scope error makes 2, passed as the highest expected).
audit() {
  local rc=0
  "$BIN" --snapshot "$1" --format "$2" -o "$3" || rc=$?
  if [ "$rc" -gt "${4:-1}" ]; then
    echo "browser-check: pipeaudit --format $2 failed ($rc)" >&2
    exit 1
  fi
}
DEMO=examples/demo-account.json
audit "$DEMO" html "$OUT/demo.html"
audit "$DEMO" json "$OUT/demo.json"
audit "$DEMO" markdown "$OUT/demo.md"
target/debug/examples/big_snapshot 1000 "$OUT/big.json" 2>/dev/null
audit "$OUT/big.json" html "$OUT/big.html"
rm -f "$OUT/big.json"
# The crafted names of the hostile-name tests, opened in the browser too.
node "$OUT/hostile.cjs" tests/fixtures/hostile/names.json "$DEMO" "$OUT/hostile.json"
audit "$OUT/hostile.json" html "$OUT/hostile.html" 2
audit "$OUT/hostile.json" markdown "$OUT/hostile.md" 2
export HOSTILE_HTML="$OUT/hostile.html" HOSTILE_MD="$OUT/hostile.md"
node "$OUT/check.cjs" "$OUT/demo.html" "$OUT/demo.json" "$DEMO" "$OUT/demo.md" "$OUT" "$OUT/big.html"
