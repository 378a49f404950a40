#!/usr/bin/env bash
# The capacity model's request counts (docs/write-path.md, "Capacity on AWS"): a rush of N
# responses (a text and a file each, 16 clients) on `verbatim serve --store aws` over moto, every
# AWS request counted by the test proxy by service, operation and kind of item, until all are
# published; the host's idle background taken out. Prints the table of requests per response.
# It runs tests/api/requests.rs (the suite runs it with 200) with more responses.
#
#   bash bench/requests.sh              # 1000 responses
#   RESPONSES=3000 bash bench/requests.sh
# Needs .venv with moto (./tests/run makes it). Debug build, like the test suite: the counts do
# not depend on it.
set -euo pipefail
cd "$(dirname "$0")/.."
RESPONSES=${RESPONSES:-1000}
cargo build --tests --locked --quiet
VERBATIM_REQUESTS_RESPONSES=$RESPONSES \
    cargo test --locked --quiet --test api requests:: -- --nocapture --test-threads 1 2>&1 |
    grep -E '^\||responses \(|panicked|test result' || true
