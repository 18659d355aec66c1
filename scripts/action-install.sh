#!/usr/bin/env bash
# Installs pipeaudit for the GitHub Action (action.yml): the release binary
# for the runner's OS and architecture, verified before it is used; without
# a release binary for the platform, a build of the action's own checkout
# with `cargo install --locked`.
#
# Environment (set by action.yml): INPUT_VERSION, ACTION_REF,
# ACTION_REPOSITORY, ACTION_PATH, RUNNER_OS_NAME, RUNNER_ARCH_NAME, GH_TOKEN,
# RUNNER_TEMP, GITHUB_PATH, GITHUB_OUTPUT.
set -euo pipefail

repo="${ACTION_REPOSITORY:-}"
[ -n "$repo" ] || repo="pipeaudit/pipeaudit"
version="${INPUT_VERSION:-}"
if [ -z "$version" ]; then
  if [[ "${ACTION_REF:-}" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    version="$ACTION_REF"
  else
    version="latest"
  fi
fi
if [ "$version" != "latest" ] && ! [[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-.][0-9A-Za-z.]+)?$ ]]; then
  echo "::error::version must be a release tag such as v0.1.0, or latest; got: $version"
  exit 2
fi

case "${RUNNER_OS_NAME:-}/${RUNNER_ARCH_NAME:-}" in
  Linux/X64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64) target=aarch64-unknown-linux-musl ;;
  macOS/X64) target=x86_64-apple-darwin ;;
  macOS/ARM64) target=aarch64-apple-darwin ;;
  Windows/X64) target=x86_64-pc-windows-msvc ;;
  *) target="" ;;
esac
exe=pipeaudit
[ "${RUNNER_OS_NAME:-}" = "Windows" ] && exe=pipeaudit.exe

dest="$RUNNER_TEMP/pipeaudit-bin"
mkdir -p "$dest/bin"

sha256() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

# Downloads the release's asset $1 into the current directory; fails when
# the release has no such asset.
fetch() {
  if command -v gh >/dev/null; then
    if [ "$version" = "latest" ]; then
      gh release download --repo "$repo" --pattern "$1" --clobber
    else
      gh release download "$version" --repo "$repo" --pattern "$1" --clobber
    fi
  else
    local url
    if [ "$version" = "latest" ]; then
      url="https://github.com/$repo/releases/latest/download/$1"
    else
      url="https://github.com/$repo/releases/download/$version/$1"
    fi
    curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 -o "$1" "$url"
  fi
}

from=""
if [ -n "$target" ]; then
  archive="pipeaudit-$target.tar.gz"
  work="$RUNNER_TEMP/pipeaudit-download"
  mkdir -p "$work"
  cd "$work"
  if fetch "$archive" && fetch SHA256SUMS; then
    # A downloaded binary is used only once verified: a failure here stops
    # the action (it does not fall back to building).
    if command -v gh >/dev/null; then
      echo "verifying the build-provenance attestation of $archive"
      gh attestation verify "$archive" --repo "$repo"
    else
      expected=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' SHA256SUMS)
      actual=$(sha256 "$archive")
      if [ -z "$expected" ] || [ "$expected" != "$actual" ]; then
        echo "::error::$archive does not match the release's SHA256SUMS"
        exit 1
      fi
      echo "$archive matches the release's SHA256SUMS"
    fi
    # Relative paths: GNU tar (Git Bash on Windows) would read "D:\..." as
    # a remote host.
    (cd "$dest/bin" && tar -xzf "../../pipeaudit-download/$archive" "$exe")
    from=release
  else
    echo "::warning::no $archive in the $version release of $repo; building pipeaudit from source with cargo install --locked"
  fi
else
  echo "::warning::no release binary for ${RUNNER_OS_NAME:-?}/${RUNNER_ARCH_NAME:-?}; building pipeaudit from source with cargo install --locked"
fi

if [ -z "$from" ]; then
  cargo install --locked --path "$ACTION_PATH" --root "$dest"
  from=source
fi

echo "$dest/bin" >> "$GITHUB_PATH"
echo "from=$from" >> "$GITHUB_OUTPUT"
"$dest/bin/$exe" --version
