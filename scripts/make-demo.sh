#!/usr/bin/env bash
# Regenerates examples/demo-account.json: 39 reference stacks seeded into
# moto (every third compliant, the others one typical defect each, every
# defect once), collected by `pipeaudit snapshot`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin pipeaudit --example seed
source scripts/moto.sh
target/debug/examples/seed --endpoint-url "$MOTO_URL" --stacks 39 --drift --prefix demo >/dev/null
target/debug/pipeaudit snapshot --region us-east-1 --endpoint-url "$MOTO_URL" -o examples/demo-account.json
