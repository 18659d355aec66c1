#!/usr/bin/env bash
# Checks the crate as crates.io would receive it: `cargo package --list`
# holds what building the binary needs (and the rule pages), nothing of the
# tests, fixtures, snapshots, benchmarks or screenshots; then
# `cargo publish --dry-run` packages it, builds the package on its own and
# checks it against the registry without uploading.
#
#   scripts/package-check.sh            the list and the dry run
#   scripts/package-check.sh --list     the list only (no build)
set -euo pipefail
cd "$(dirname "$0")/.."

list=$(cargo package --list --locked --allow-dirty)

# Every file must be one of these...
allowed='^(Cargo\.toml|Cargo\.toml\.orig|Cargo\.lock|\.cargo_vcs_info\.json|LICENSE|README\.md|build\.rs|src/.+\.rs|rules/.+\.ya?ml|docs/rules/[^/]+\.md)$'
unexpected=$(grep -Ev "$allowed" <<<"$list" || true)
if [ -n "$unexpected" ]; then
  echo "the package carries files it does not need:" >&2
  echo "$unexpected" >&2
  exit 1
fi
# ... and these must be there.
for need in Cargo.toml Cargo.lock LICENSE README.md build.rs src/main.rs src/lib.rs docs/rules/README.md; do
  if ! grep -qxF "$need" <<<"$list"; then
    echo "the package lacks $need" >&2
    exit 1
  fi
done
rules_in_tree=$(find rules -type f \( -name '*.yaml' -o -name '*.yml' \) | wc -l)
rules_in_package=$(grep -Ec '^rules/.+\.ya?ml$' <<<"$list")
if [ "$rules_in_tree" -ne "$rules_in_package" ]; then
  echo "the package has $rules_in_package rule files of the $rules_in_tree under rules/" >&2
  exit 1
fi
echo "cargo package --list: $(wc -l <<<"$list") files, $rules_in_package rule files, nothing else"

if [ "${1:-}" = "--list" ]; then
  exit 0
fi
cargo publish --dry-run --locked
