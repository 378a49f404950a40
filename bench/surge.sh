#!/usr/bin/env bash
# Surge benchmark: 256 and 2,048 concurrent responses (64 clients) to the real `verbatim`
# binary, on the embedded store and on S3 + DynamoDB emulated by moto: how many were accepted
# (201, or 202 while their number comes), that none failed, that the numbers are 1…N without a
# gap, and the time until all are published. It runs tests/api/rush.rs (the suite runs it with 256)
# with more responses and a longer time limit, and prints its RUSH lines.
#
#   bash bench/surge.sh              # 256 and 2048
#   SIZES="512" bash bench/surge.sh  # other sizes
# Needs .venv with moto (./tests/run makes it). Debug build, like the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"256 2048"}
SECONDS_LIMIT=${SECONDS_LIMIT:-600}
cargo build --tests --locked --quiet
for n in $SIZES; do
    echo "== $n responses"
    VERBATIM_RUSH_RESPONSES=$n VERBATIM_RUSH_SECONDS=$SECONDS_LIMIT \
        cargo test --locked --quiet --test api rush:: -- --nocapture --test-threads 1 2>&1 |
        grep -oE 'RUSH.*|panicked.*|test result.*' || true
done
