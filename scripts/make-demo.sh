#!/usr/bin/env bash
# Regenerates examples/demo-account.json: 39 reference stacks seeded into
# moto (every third compliant, the others one typical defect each, every
# defect once), collected by `pipeaudit snapshot`, then finished (see below).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin pipeaudit --example seed
source scripts/moto.sh
target/debug/examples/seed --endpoint-url "$MOTO_URL" --stacks 39 --drift --prefix demo >/dev/null
target/debug/pipeaudit snapshot --region us-east-1 --endpoint-url "$MOTO_URL" -o examples/demo-account.json
# moto keeps no project key and no deployment group alarms: set them as the
# seeded stacks intend, so the demo shows only the seeded defects (CB004 and
# CD006 would otherwise fire on every pipeline)
cargo run --quiet --example demo_finish -- examples/demo-account.json
