#!/usr/bin/env bash
# Builds every Lambda function the way `sam build` does (cargo lambda build --release), for
# arm64 by default, into target/lambda/<binary>/bootstrap, and prints each binary's size.
#   bash infra/build.sh            # arm64 (the template's default Architecture)
#   bash infra/build.sh x86_64
#   LAMBDA_PROFILE=lambda-check bash infra/build.sh   # what CI builds: no optimisation, no LTO
# Installs pinned cargo-lambda and ziglang (its linker) into <repo>/.venv-lambda on first use.
# A release build of all functions is heavy (several minutes of both cores from clean):
# the test command does not run it; see infra/README.md for the measured figures.
set -euo pipefail

CARGO_LAMBDA_VERSION="1.9.2"
ZIGLANG_VERSION="0.17.1"

architecture="${1:-arm64}"
case "$architecture" in
  arm64) arch_flag="--arm64" ;;
  x86_64) arch_flag="--x86-64" ;;
  *) echo "build.sh: architecture must be arm64 or x86_64, not $architecture" >&2; exit 2 ;;
esac

repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_dir/.venv-lambda"
pins="cargo-lambda==$CARGO_LAMBDA_VERSION ziglang==$ZIGLANG_VERSION"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
if [[ "$(cat "$venv/.pins" 2>/dev/null || true)" != "$pins" ]]; then
  echo "build.sh: installing $pins" >&2
  # shellcheck disable=SC2086 # $pins is a list of requirement specifiers
  "$venv/bin/pip" install --quiet --disable-pip-version-check $pins
  printf '%s' "$pins" >"$venv/.pins"
fi
export PATH="$venv/bin:$PATH"
# INSTALL_ONLY=1: cargo-lambda and zig only (tests/run installs them while it builds).
if [ "${INSTALL_ONLY:-}" = 1 ]; then exit 0; fi

# Every function crate of the workspace (functions/*), built together so that the shared
# crate is compiled once.
cd "$repo_dir"
packages=()
binaries=()
for manifest in functions/*/Cargo.toml; do
  package="$(sed -n 's/^name = "\(.*\)"$/\1/p' "$manifest" | head -n 1)"
  packages+=(--package "$package")
  binaries+=("$package")
done

start=$SECONDS
profile="${LAMBDA_PROFILE:-release}"
if [ "$profile" = release ]; then
  profile_flag=(--release)
else
  profile_flag=(--profile "$profile")
fi
cargo lambda build "${profile_flag[@]}" --locked "$arch_flag" "${packages[@]}"
echo "build.sh: built ${#binaries[@]} functions for $architecture ($profile) in $((SECONDS - start)) s"

printf '%-24s %12s %10s\n' function bytes MiB
for binary in "${binaries[@]}"; do
  bootstrap="target/lambda/$binary/bootstrap"
  bytes="$(stat -c %s "$bootstrap")"
  printf '%-24s %12d %10.1f\n' "$binary" "$bytes" "$(echo "$bytes / 1048576" | bc -l)"
done
