"""Issue 15, item 14: scripts/security.sh never lets a check that examined nothing read as a
pass. pip-audit that audited no package says "not run: <reason>" (exit status 3), bandit
still runs, and a real finding still fails."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _fake_venv(tmp_path: Path, audit_json: dict | None, audit_rc: int = 0, stderr: str = "") -> Path:
    bin_ = tmp_path / "venv" / "bin"
    bin_.mkdir(parents=True)
    (bin_ / "python").symlink_to(sys.executable)
    (bin_ / "bandit").write_text(f"#!/bin/sh\necho bandit-ran > {tmp_path / 'bandit.ran'}\nexit 0\n")
    body = json.dumps(audit_json) if audit_json is not None else ""
    (tmp_path / "audit.json").write_text(body)
    (bin_ / "pip-audit").write_text(
        f"#!/bin/sh\ncat {tmp_path / 'audit.json'}\necho '{stderr}' >&2\n"
        f"echo 'No known vulnerabilities found' >&2\nexit {audit_rc}\n")
    for f in bin_.iterdir():
        if f.name != "python":
            f.chmod(0o755)
    return tmp_path / "venv"


def _run(venv: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "scripts/security.sh")], capture_output=True, text=True,
                          env={**os.environ, "VENV": str(venv)}, timeout=120)


def test_nothing_audited_is_not_run_not_passed(tmp_path):
    skipped = {"dependencies": [{"name": "flask", "version": "3.1.0",
                                 "skip_reason": "Dependency not found on PyPI and could not be audited"}] * 3}
    r = _run(_fake_venv(tmp_path, skipped))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "pip-audit: not run: no package was audited" in r.stdout
    assert "passed" not in r.stdout.splitlines()[-1].split(";")[1]
    assert (tmp_path / "bandit.ran").exists(), "bandit still runs"


def test_an_unreachable_service_is_not_run(tmp_path):
    r = _run(_fake_venv(tmp_path, None, audit_rc=1, stderr="requests.exceptions.ConnectionError: Max retries"))
    assert r.returncode == 3 and "not run: the vulnerability service could not be reached" in r.stdout


def test_a_real_audit_passes_and_a_vulnerability_fails(tmp_path):
    ok = {"dependencies": [{"name": "flask", "version": "3.1.0", "vulns": []}]}
    r = _run(_fake_venv(tmp_path / "a", ok))
    assert r.returncode == 0 and "pip-audit: passed (1 packages audited)" in r.stdout
    bad = {"dependencies": [{"name": "jinja2", "version": "2.0", "vulns": [{"id": "PYSEC-1"}]}]}
    r = _run(_fake_venv(tmp_path / "b", bad, audit_rc=1))
    assert r.returncode == 1 and "FAILED: jinja2 2.0 (PYSEC-1)" in r.stdout


@pytest.mark.parametrize("needle", ['3) results[security]=', "not run"])
def test_the_test_script_reports_not_run(needle):
    assert needle in (ROOT / "scripts/test.sh").read_text()
