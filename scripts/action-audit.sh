#!/usr/bin/env bash
# The audit step of the GitHub Action (action.yml): runs pipeaudit once, as
# SARIF (with INPUT_SARIF=true) or JSON, into OUT_DIR, and writes to
# GITHUB_OUTPUT the report's path, the exit code and the finding counts by
# severity. It exits 0 whatever pipeaudit found: the action's last step
# exits with pipeaudit's code, after the upload.
#
# Environment: INPUT_ARGS, INPUT_SARIF, INPUT_FAIL_ON, INPUT_CONFIG,
# INPUT_EXIT_ZERO, OUT_DIR, GITHUB_OUTPUT; pipeaudit on the PATH.
set -euo pipefail

mkdir -p "$OUT_DIR"
opts=()
if [ -n "${INPUT_FAIL_ON:-}" ]; then opts+=(--fail-on "$INPUT_FAIL_ON"); fi
if [ -n "${INPUT_CONFIG:-}" ]; then opts+=(--config "$INPUT_CONFIG"); fi
if [ "${INPUT_EXIT_ZERO:-false}" = "true" ]; then opts+=(--exit-zero); fi
# The arguments are split into words as the shell splits them, without
# glob expansion.
set -f
# shellcheck disable=SC2206
extra=(${INPUT_ARGS:-})
set +f
if [ "${INPUT_SARIF:-false}" = "true" ]; then
  report="$OUT_DIR/pipeaudit.sarif"
  opts+=(--format sarif)
else
  report="$OUT_DIR/pipeaudit.json"
  opts+=(--format json)
fi
rm -f "$report"
rc=0
# (the ${a[@]+...} form: bash 3.2, as on macOS, rejects an empty array under set -u)
pipeaudit ${extra[@]+"${extra[@]}"} "${opts[@]}" -o "$report" || rc=$?
echo "exit-code=$rc" >> "$GITHUB_OUTPUT"
echo "pipeaudit exited $rc"
if [ ! -s "$report" ]; then
  exit 0
fi
echo "report=$report" >> "$GITHUB_OUTPUT"
# The counts, by severity, of the findings in the report.
if [ "${INPUT_SARIF:-false}" = "true" ]; then
  echo "sarif=$report" >> "$GITHUB_OUTPUT"
  counts='[.runs[].results[].properties.severity]
          | {findings: length} + (group_by(.) | map({(.[0]): length}) | add // {})'
else
  counts='{findings: .summary.findings} + .summary.by_severity'
fi
jq -r "$counts"' | . as $c
       | ["findings", "critical", "high", "medium", "low", "info"][]
       | "\(.)=\($c[.] // 0)"' "$report" >> "$GITHUB_OUTPUT"
