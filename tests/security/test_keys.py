"""Master key rotation: add a version, re-wrap in batches without re-encrypting documents,
survive a SIGKILL mid-way and resume, retire the old version only when unused."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from records import crypto, keys
from records.cases import operations
from records.settings import Settings
from records.errors import Conflict
from app.composition import build_instance
from records.models import Record
from records.setup import init_instance
from tests.conftest import letter_data


@pytest.fixture
def own(tmp_path):
    """An instance of this test's own (rotation changes the key file)."""
    s = Settings.from_env({}, home=str(tmp_path / "inst"), database_url=f"sqlite:///{tmp_path / 'inst' / 'x.sqlite3'}")
    init_instance(s)
    inst = build_instance(s)
    from records.accounts import operations as accounts

    with inst.unit_of_work() as sess:
        clerk = accounts.create_user(sess, "clerk1", "test-password-123", ["clerk"], office="XFB")
        for i in range(40):
            operations.register(sess, letter_data(subject=f"第{i}封"), by=clerk)
    yield inst
    inst.close()


def _documents(inst) -> dict[str, bytes]:
    with inst.unit_of_work() as s:
        return dict(s.execute(select(Record.serial, Record.document_sealed)).all())


def _readable(inst) -> int:
    fresh = build_instance(inst.settings)   # a new process's view: keyring read from the file
    try:
        n = 0
        with fresh.unit_of_work() as s:
            for r in s.execute(select(Record)).scalars():
                assert operations.document(s, r)["subject"].startswith("第")
                n += 1
        return n
    finally:
        fresh.close()


def test_rotate_rewraps_without_reencrypting(own):
    before = _documents(own)
    seen = []
    report = keys.rotate(own, batch=7, progress=lambda d, t: seen.append((d, t)))
    assert report.added_version and report.version == 2 and report.rewrapped == 40 and report.remaining == 0
    assert seen[-1] == (40, 40) and len(seen) == 6
    assert keys.usage(own) == {"record keys": {"master:2": 40}, "batch key files": {}}
    assert _documents(own) == before, "no document was re-encrypted"
    assert _readable(own) == 40
    ring = json.loads(own.settings.key_file.read_text())
    assert set(ring["versions"]) == {"1", "2"} and ring["current"] == 2
    assert own.settings.key_file.stat().st_mode & 0o777 == 0o600
    keys.retire(own, 1)
    assert set(json.loads(own.settings.key_file.read_text())["versions"]) == {"2"}
    assert _readable(own) == 40


def test_retire_is_refused_while_in_use(own):
    keys.add_version(own)
    with pytest.raises(Conflict):
        keys.retire(own, 1)
    with pytest.raises(Conflict):
        keys.retire(own, 2)   # the current one
    report = keys.rotate(own)
    assert not report.added_version and report.rewrapped == 40, "an interrupted rotation is resumed, not restarted"
    keys.retire(own, 1)


_KILLABLE = r"""
import sys, time
from records import keys
from records.settings import Settings
from app.composition import build_instance
s = Settings.from_env({}, home=sys.argv[1], database_url=sys.argv[2])
inst = build_instance(s)
def slow(done, total):
    print(done, flush=True)
    time.sleep(0.3)
keys.rotate(inst, batch=5, progress=slow)
"""


def test_kill_mid_rotation_then_resume(own):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-c", _KILLABLE, str(own.settings.home), own.settings.database_url],
                            stdout=subprocess.PIPE, env=env, text=True)
    try:
        line = proc.stdout.readline()   # first batch committed
        assert line.strip() == "5"
        proc.stdout.readline()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    usage = keys.usage(own)["record keys"]
    assert 0 < usage.get("master:2", 0) < 40 and usage.get("master:1", 0) > 0
    assert _readable(own) == 40, "half-rotated data stays readable"
    fresh = build_instance(own.settings)
    try:
        report = keys.rotate(fresh, batch=5)
        assert not report.added_version and report.remaining == 0
        assert keys.usage(fresh)["record keys"] == {"master:2": 40}
        keys.retire(fresh, 1)
    finally:
        fresh.close()
    assert _readable(own) == 40


def test_env_keyring_is_not_rotated_in_place(own):
    s = own.settings.with_(master_key_source="env")
    ring = crypto.Keyring.from_json(own.settings.key_file.read_text())
    inst = build_instance(s, keyring=ring)
    try:
        from records.errors import ConfigurationError

        with pytest.raises(ConfigurationError):
            keys.add_version(inst)
    finally:
        inst.close()


def test_cli(own, tmp_path):
    from app import create_app
    from app.cli import cli

    application = create_app({"XINFANG_SETTINGS": own.settings, "TESTING": True, "SECRET_KEY": "x"})
    runner = application.test_cli_runner()
    r = runner.invoke(cli, args=["keys", "rotate", "--batch", "10"])
    assert r.exit_code == 0, r.output
    assert "Added master key version 2" in r.output and "Re-wrapped 40" in r.output
    r = runner.invoke(cli, args=["keys", "status"])
    assert "master:2 (current): record keys: 40, batch key files: 0" in r.output
    assert "master:1: record keys: 0, batch key files: 0" in r.output
    r = runner.invoke(cli, args=["keys", "retire", "2"])
    assert r.exit_code == 1 and "current" in r.output
    r = runner.invoke(cli, args=["keys", "retire", "1"])
    assert r.exit_code == 0, r.output
    application.extensions["xinfang"].close()
