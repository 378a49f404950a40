#!/usr/bin/env bash
# The API against its description: starts the built `verbatim` binary (path in $1, default
# target/debug/verbatim; this script builds nothing) on a free port over a fresh data folder,
# opens one consultation through the admin API so that requests reach the real intake logic,
# and runs schemathesis (pinned, in its own venv .venv-schemathesis) with every check against
# the description the server itself serves at /api/openapi.json. Any failure fails the script;
# the server is stopped whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-target/debug/verbatim}
SCHEMATHESIS=4.32.5
# Test cases per operation and the seed: a fixed seed makes a run repeatable (and a failure
# reproducible with the same command); 200 cases keep the run near a minute and a half on a
# 2-core machine (measured: 5,313 cases in 94 s).
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-200}
SEED=${SCHEMATHESIS_SEED:-1344}
TOKEN=schemathesis-admin-token-0123456789
# The consultation every example of the description names (ConsultationId's example), so the
# examples phase and the requests built from them reach an open consultation.
CONSULTATION=internet-access-2027

if [ ! -x .venv-schemathesis/bin/st ] ||
  ! .venv-schemathesis/bin/st --version 2>/dev/null | grep -q "$SCHEMATHESIS"; then
  echo "==> installing schemathesis $SCHEMATHESIS into .venv-schemathesis"
  python3 -m venv .venv-schemathesis
  .venv-schemathesis/bin/pip install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS"
fi
# INSTALL_ONLY=1: install schemathesis and stop (tests/run does it while it builds).
if [ "${INSTALL_ONLY:-}" = 1 ]; then exit 0; fi
if [ ! -x "$BIN" ]; then
  echo "no binary at $BIN: build it first (cargo build --bin verbatim)" >&2
  exit 2
fi

work=$(mktemp -d)
server=
stop() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

VERBATIM_ADMIN_TOKEN=$TOKEN RUST_LOG=warn "$BIN" serve --addr 127.0.0.1:0 \
  --data "$work/data" --rate-limit off >"$work/stdout" &
server=$!
url=
for _ in $(seq 300); do
  url=$(sed -n 's|^Verbatim is serving at \(http://[^/]*\)/$|\1|p' "$work/stdout")
  [ -n "$url" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "verbatim exited before it was ready:" >&2
    cat "$work/stdout" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "verbatim did not say where it serves within 30 s" >&2
  exit 1
fi

status=$(curl -s -o "$work/created" -w '%{http_code}' "$url/api/admin/consultations" \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d "{\"id\":\"$CONSULTATION\",\"title\":{\"en\":\"Internet access\",\"fr\":\"Accès à l’Internet\"},
       \"questions\":[{\"en\":\"What should be done?\"}],\"meeting_date\":\"2099-03-31\"}")
if [ "$status" != 201 ]; then
  echo "opening the consultation answered $status:" >&2
  cat "$work/created" >&2
  exit 1
fi

# Every check runs. tests/schemathesis.toml holds the exceptions the description cannot
# avoid (positive_data_acceptance admits 422 where a deadline must be in the future, 410 and
# 415 where an upload's expiry or a file's content decide, 422 where an answer's question
# number does; negative_data_rejection admits 413
# for a grant's size over the limit) with why, and loads the hook that gives each well-formed
# Idempotency-Key a fresh value (tests/schemathesis_hooks.py, why there).
.venv-schemathesis/bin/st --config-file tests/schemathesis.toml run "$url/api/openapi.json" \
  --url "$url" \
  -H "Authorization: Bearer $TOKEN" \
  --checks all \
  --max-examples "$EXAMPLES" \
  --seed "$SEED" \
  --generation-database none \
  --report junit --report-dir tests/artifacts/schemathesis \
  --no-color
