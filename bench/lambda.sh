#!/usr/bin/env bash
# Lambda functions: binary sizes and time from process start to the first poll for an event.
#
# Builds every function as Lambda runs it (infra/build.sh: cargo lambda build --release), for
# this machine's architecture so that the binaries can run here (x86_64 by default; the
# template deploys arm64, built the same way by the same profile), then starts each one RUNS
# times behind the stack check's Lambda Runtime API emulator, with the environment the template
# gives it and the stack's resources on moto, and prints how long each took to ask for its
# first event (initialization: configuration, AWS clients, the signing key from SSM). The
# floor, in the same run: curl starting and making the same request.
#
#   bash bench/lambda.sh            # RUNS=10
#   RUNS=20 bash bench/lambda.sh
# Needs .venv with moto (./tests/run makes it). The release build takes minutes from clean.
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH=${ARCH:-$(uname -m | sed "s/aarch64/arm64/")}
RUNS=${RUNS:-10}
bash infra/build.sh "$ARCH"
# Only to make the signing key the stack check stores in SSM.
cargo build --locked --quiet --bin verbatim
.venv/bin/python infra/stack_check.py --bin-dir target/lambda --cli target/debug/verbatim \
    --cold-starts "$RUNS" | grep -E '^COLD|failed'
