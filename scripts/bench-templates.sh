#!/usr/bin/env bash
# Template mode benchmark: N copies of the reference template (each with
# its own Prefix in a parameter file beside it, so N pipelines with their
# own resources) audited offline in one run, time and peak memory.
#   scripts/bench-templates.sh [N] [BINARY]
set -euo pipefail
n="${1:-200}"
bin="${2:-target/release/pipeaudit}"
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
for i in $(seq -w 1 "$n"); do
  cp "$here/tests/fixtures/templates/reference.yaml" "$dir/stack-$i.yaml"
  printf '[{"ParameterKey": "Prefix", "ParameterValue": "bench-%s"}]\n' "$i" \
    > "$dir/stack-$i.parameters.json"
done
/usr/bin/time -f "%e s elapsed, %U s user + %S s system CPU, %M KiB peak resident" \
  "$bin" --template "$dir" --format json -o "$dir/report.json" || true
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["pipelines"], "pipelines,", s["findings"], "findings")' "$dir/report.json"
