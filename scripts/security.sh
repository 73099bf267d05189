#!/usr/bin/env bash
# Static security checks for CI: bandit (fails on high-severity findings) and pip-audit
# (fails on known vulnerabilities in the installed packages).
#
# A check that examined nothing is never reported as passed: when pip-audit audited no
# package (its advisory service unreachable, every package skipped), it is "not run: <reason>".
# Exit status: 0 every check ran and passed; 1 a check failed; 3 none failed but one was not run.
# The last line of output is the summary, e.g. "security: bandit passed; pip-audit not run: ...".
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
status=0
bandit_result="passed"
audit_result="passed"

echo "== bandit (high severity) =="
if ! "$VENV/bin/bandit" -q -r app records search retention -lll; then
    echo "bandit: high-severity findings (see above)" >&2
    bandit_result="FAILED"
    status=1
fi

echo "== pip-audit =="
out="$(mktemp)"
err="$(mktemp)"
"$VENV/bin/pip-audit" --progress-spinner off --skip-editable -l --format json >"$out" 2>"$err"
rc=$?
# count what was really audited: a package skipped (unknown to the service, or the service
# unreachable) is not audited, and neither is anything when the output is not a report at all
verdict="$("$VENV/bin/python" - "$out" "$err" "$rc" <<'PY'
import json, sys
out, err, rc = open(sys.argv[1]).read(), open(sys.argv[2]).read(), int(sys.argv[3])
network = ("ConnectionError", "Max retries", "Failed to establish", "Name or service not known", "timed out",
           "HTTPSConnectionPool", "Temporary failure", "Network is unreachable")
try:
    deps = json.loads(out).get("dependencies", [])
except ValueError:
    reason = next((w for w in network if w in err), None)
    print("not run: " + (f"the vulnerability service could not be reached ({reason})" if reason
                         else "pip-audit gave no report (exit code %d)" % rc))
    sys.exit()
audited = [d for d in deps if "vulns" in d]
skipped = [d for d in deps if "skip_reason" in d]
vulnerable = [d for d in audited if d["vulns"]]
if vulnerable:
    print("FAILED: " + ", ".join(f"{d['name']} {d['version']} ({', '.join(v['id'] for v in d['vulns'])})"
                                 for d in vulnerable))
elif not audited:
    why = skipped[0]["skip_reason"] if skipped else "no installed package was found to audit"
    print(f"not run: no package was audited ({len(skipped)} skipped: {why})")
elif skipped:
    print(f"passed ({len(audited)} packages audited; {len(skipped)} could not be: {skipped[0]['skip_reason']})")
else:
    print(f"passed ({len(audited)} packages audited)")
PY
)"
rm -f "$out" "$err"
echo "pip-audit: $verdict"
case "$verdict" in
    FAILED*) audit_result="FAILED"; status=1 ;;
    "not run"*) audit_result="$verdict"; [ $status -eq 0 ] && status=3 ;;
    *) audit_result="passed" ;;
esac
echo "security: bandit $bandit_result; pip-audit $audit_result"
exit $status
