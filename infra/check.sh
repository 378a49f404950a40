#!/usr/bin/env bash
# Static checks of the Verbatim deployment templates (template.yaml, the operator's stack, and
# witness.yaml, a witness's own): cfn-lint, `sam validate --lint`, checkov, then our own
# cfn-guard rules (infra/guard/*.guard) and their tests. Every tool runs on every template.
# Installs pinned tool versions on first use: cfn-lint and checkov into <repo>/.venv-infra,
# the SAM CLI into <repo>/.venv-sam (it pins its own boto3), cfn-guard into <repo>/.tools
# (`cargo install`, ~1.5 minutes). Exits non-zero if any tool reports a problem.
set -euo pipefail

CFN_LINT_VERSION="1.58.0"
CHECKOV_VERSION="3.3.30"
SAM_CLI_VERSION="1.170.0"
CFN_GUARD_VERSION="3.2.1"

infra_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$infra_dir/.." && pwd)"

# venv_with <dir> <pins...>: a virtualenv holding exactly these pinned packages.
venv_with() {
  local venv="$1"
  shift
  local pins="$*"
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
}

venv_with "$repo_dir/.venv-infra" "cfn-lint==$CFN_LINT_VERSION" "checkov==$CHECKOV_VERSION"
venv_with "$repo_dir/.venv-sam" "aws-sam-cli==$SAM_CLI_VERSION"
# INSTALL_ONLY=1: the Python tools only (tests/run installs them while it builds).
if [ "${INSTALL_ONLY:-}" = 1 ]; then exit 0; fi
guard="$repo_dir/.tools/bin/cfn-guard"
if ! "$guard" --version 2>/dev/null | grep -qF "$CFN_GUARD_VERSION"; then
  echo "check.sh: installing cfn-guard $CFN_GUARD_VERSION into .tools" >&2
  cargo install --quiet --locked --root "$repo_dir/.tools" --version "$CFN_GUARD_VERSION" cfn-guard
fi

templates=("$infra_dir/template.yaml" "$infra_dir/witness.yaml")
status=0

echo "== cfn-lint $CFN_LINT_VERSION"
for template in "${templates[@]}"; do
  if "$repo_dir/.venv-infra/bin/cfn-lint" -- "$template"; then
    echo "cfn-lint $(basename "$template"): no findings"
  else
    echo "cfn-lint $(basename "$template"): FAILED" >&2
    status=1
  fi
done

echo "== sam validate --lint (SAM CLI $SAM_CLI_VERSION)"
for template in "${templates[@]}"; do
  # Needs a region, no credentials.
  if SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" \
    "$repo_dir/.venv-sam/bin/sam" validate --lint --template-file "$template"; then
    echo "sam validate $(basename "$template"): no findings"
  else
    echo "sam validate $(basename "$template"): FAILED" >&2
    status=1
  fi
done

echo "== checkov $CHECKOV_VERSION"
for template in "${templates[@]}"; do
  # --skip-download: offline run (no Prisma Cloud policy download).
  if "$repo_dir/.venv-infra/bin/checkov" -f "$template" --framework cloudformation --compact --quiet --skip-download; then
    echo "checkov $(basename "$template"): no failed checks"
  else
    echo "checkov $(basename "$template"): FAILED" >&2
    status=1
  fi
done

echo "== cfn-guard $CFN_GUARD_VERSION: rule tests (each rule passes and fails where it should)"
for rules in "$infra_dir"/guard/*.guard; do
  name="$(basename "$rules" .guard)"
  tests="$infra_dir/guard/tests/${name}_tests.yaml"
  # Quiet unless a case fails: the report lists every rule of every case.
  if report="$("$guard" test --rules-file "$rules" --test-data "$tests" 2>&1)"; then
    echo "cfn-guard test $name: $(grep -c '^Test Case' <<<"$report") cases as expected"
  else
    printf '%s\n' "$report"
    echo "cfn-guard test $name: FAILED" >&2
    status=1
  fi
done

echo "== cfn-guard $CFN_GUARD_VERSION: templates"
for template in "${templates[@]}"; do
  if "$guard" validate --rules "$infra_dir/guard" --data "$template" --show-summary fail; then
    echo "cfn-guard $(basename "$template"): every rule passes"
  else
    echo "cfn-guard $(basename "$template"): FAILED" >&2
    status=1
  fi
done

exit "$status"
