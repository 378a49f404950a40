#!/usr/bin/env bash
# The public site in a real browser: installs what it needs (Debian's Chromium, then
# playwright-core and @axe-core/playwright from the committed package-lock.json), builds the
# `verbatim` binary, and runs site.test.mjs with Node's test runner. The test starts the binary
# on a free loopback port with a fresh data folder; screenshots go to tests/artifacts/.
set -euo pipefail
cd "$(dirname "$0")"

if [ -z "${CHROMIUM:-}" ]; then
  CHROMIUM=$(command -v chromium || true)
fi
if [ -z "$CHROMIUM" ]; then
  echo "==> installing chromium (Debian)"
  if [ "$(id -u)" -ne 0 ]; then
    echo "chromium is missing and only root can install it: apt-get install chromium" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core fonts-noto-cjk >/dev/null
  CHROMIUM=$(command -v chromium)
fi
export CHROMIUM

if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/@axe-core/playwright ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci (playwright-core, @axe-core/playwright)"
  npm ci --no-audit --no-fund --loglevel=error
fi
# INSTALL_ONLY=1: install and stop (tests/run does it while it builds).
if [ "${INSTALL_ONLY:-}" = 1 ]; then exit 0; fi

(cd ../.. && cargo build --locked --quiet --bin verbatim)
export VERBATIM_BIN="${VERBATIM_BIN:-$(cd ../.. && pwd)/target/debug/verbatim}"
mkdir -p ../artifacts
exec node --test --test-concurrency=1 site.test.mjs
