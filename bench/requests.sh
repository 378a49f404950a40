#!/usr/bin/env bash
# The capacity model's request counts (docs/write-path.md, "Capacity on AWS"): a rush of N
# responses (a text and a file each, 16 clients) on `verbatim serve --store aws` over moto, every
# AWS request counted by the test proxy by service, operation and kind of item, until all are
# published; the host's idle background taken out. Prints the table of requests per response.
# It runs tests/api/requests.rs (the suite runs it with 200) with more responses.
#
#   bash bench/requests.sh              # 1000 responses, 16 clients, each waiting for its number
#   RESPONSES=3000 bash bench/requests.sh
#   RESPONSES=2000 CLIENTS=64 RECEIPT_WAIT=0s bash bench/requests.sh
#                                       # every answer a 202: intake outruns the sequencer and
#                                       # batches grow (the per-batch counts at scale)
# Needs .venv with moto (./tests/run makes it). Debug build, like the test suite: the counts do
# not depend on it.
set -euo pipefail
cd "$(dirname "$0")/.."
RESPONSES=${RESPONSES:-1000}
CLIENTS=${CLIENTS:-16}
RECEIPT_WAIT=${RECEIPT_WAIT:-2s}
cargo build --tests --locked --quiet
VERBATIM_REQUESTS_RESPONSES=$RESPONSES VERBATIM_REQUESTS_CLIENTS=$CLIENTS \
  VERBATIM_REQUESTS_RECEIPT_WAIT=$RECEIPT_WAIT \
    cargo test --locked --quiet --test api requests:: -- --nocapture --test-threads 1 2>&1 |
    grep -E '^\||responses \(|batches,|panicked|test result' || true
