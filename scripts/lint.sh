#!/usr/bin/env bash
# Lint for CI: ruff (pyflakes, pycodestyle, bugbear; no import below a module's code) and
# lint-imports (the import contracts: app -> retention -> search -> records, no Flask below
# app, the features of records stacked without cycles). Both are configured in pyproject.toml
# and installed by the test extra (scripts/setup.sh). Exit status 1 when either finds anything.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
status=0
ruff_result="passed"
imports_result="passed"

echo "== ruff =="
if ! "$VENV/bin/ruff" check app records search retention tests benchmarks scripts; then
    ruff_result="FAILED"
    status=1
fi

echo "== lint-imports =="
if ! "$VENV/bin/lint-imports" --no-cache; then
    imports_result="FAILED"
    status=1
fi

echo "lint: ruff $ruff_result; lint-imports $imports_result"
exit $status
