#!/usr/bin/env bash
# Static checks of the Verbatim deployment template: cfn-lint, then checkov.
# Installs pinned tool versions into <repo>/.venv-infra on first use (~1 minute).
# Exits non-zero if either tool reports a problem. `sam validate --lint` is not run
# here (the SAM CLI is slow to install); see infra/README.md.
set -euo pipefail

CFN_LINT_VERSION="1.58.0"
CHECKOV_VERSION="3.3.30"

infra_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$infra_dir/.." && pwd)"
venv="$repo_dir/.venv-infra"
pins="cfn-lint==$CFN_LINT_VERSION checkov==$CHECKOV_VERSION"

if [[ ! -x "$venv/bin/python" ]]; then
  echo "check.sh: creating $venv" >&2
  python3 -m venv "$venv"
fi
if [[ "$(cat "$venv/.pins" 2>/dev/null || true)" != "$pins" ]]; then
  echo "check.sh: installing $pins" >&2
  # shellcheck disable=SC2086 # $pins is a list of requirement specifiers
  "$venv/bin/pip" install --quiet --disable-pip-version-check $pins
  printf '%s' "$pins" >"$venv/.pins"
fi

template="$infra_dir/template.yaml"
status=0

echo "== cfn-lint $CFN_LINT_VERSION"
if "$venv/bin/cfn-lint" -- "$template"; then
  echo "cfn-lint: no findings"
else
  echo "cfn-lint: FAILED" >&2
  status=1
fi

echo "== checkov $CHECKOV_VERSION"
# --skip-download: offline run (no Prisma Cloud policy download).
if "$venv/bin/checkov" -f "$template" --framework cloudformation --compact --quiet --skip-download; then
  echo "checkov: no failed checks"
else
  echo "checkov: FAILED" >&2
  status=1
fi

exit "$status"
