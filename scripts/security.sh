#!/usr/bin/env bash
# Static security checks for CI: bandit (fails on high-severity findings) and pip-audit
# (fails on known vulnerabilities in the installed packages). pip-audit needs PyPI's
# advisory service: when it cannot be reached, that is a warning, not a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
status=0

echo "== bandit (high severity) =="
if ! "$VENV/bin/bandit" -q -r app records search retention -lll; then
    echo "bandit: high-severity findings (see above)" >&2
    status=1
fi

echo "== pip-audit =="
out="$(mktemp)"
"$VENV/bin/pip-audit" --progress-spinner off --skip-editable -l >"$out" 2>&1
rc=$?
grep -v "could not be audited" "$out"
skipped=$(grep -c "could not be audited" "$out")
if [ "$skipped" -gt 0 ]; then
    echo "WARNING: pip-audit could not audit $skipped installed packages (the advisory service did not know them)." >&2
fi
if [ $rc -ne 0 ]; then
    if grep -qiE "ConnectionError|Max retries|Failed to establish|Name or service not known|timed out|HTTPSConnectionPool|Temporary failure|Network is unreachable" "$out"; then
        echo "WARNING: pip-audit could not reach the vulnerability service; dependencies were NOT audited." >&2
    else
        echo "pip-audit: vulnerable dependencies (see above)" >&2
        status=1
    fi
fi
rm -f "$out"
exit $status
