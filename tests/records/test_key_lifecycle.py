"""The master key's life cycle cannot lose a letter (issue 13).

The defect reproduced: a letter received in 2024 is stored through the workflow (its data
key re-wrapped under its (region, year) batch key, whose file in the key store is sealed
under the master key); ``keys rotate`` re-wrapped only ``record_keys`` and ``keys retire 1``
then left every stored letter unreadable ("Key 'master:1' is not in this keyring"). Now
rotation re-wraps every registered holder, retire refuses while anything is still wrapped
by the version (naming what), and destruction still crypto-shreds."""
from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select

from app.composition import build_instance
from records import crypto, keys
from records.accounts import operations as accounts
from records.accounts.models import User
from records.cases import operations, workflow
from records.errors import Conflict, CryptoError
from records.models import Record
from records.settings import Settings
from records.setup import init_instance
from retention import destroy
from retention import operations as ret
from retention.models import Batch
from tests.conftest import TEST_PASSWORD, letter_data

TODAY = dt.date(2029, 6, 1)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def own(tmp_path):
    """An instance of this test's own (rotation rewrites the key file), SQLite in its folder."""
    s = Settings.from_env({}, home=str(tmp_path / "inst"), database_url=f"sqlite:///{tmp_path / 'inst' / 'x.sqlite3'}")
    init_instance(s, build=build_instance)
    inst = build_instance(s)
    with inst.unit_of_work() as sess:
        for name, roles, office in (("clerk", ["clerk"], "XFB"), ("archivist", ["archivist"], None),
                                    ("leader", ["leader"], None), ("chief", ["chief"], None)):
            accounts.create_user(sess, name, TEST_PASSWORD, roles, office=office)
    yield inst
    inst.close()


def _user(s, name: str) -> User:
    return s.execute(select(User).where(User.username == name)).scalar_one()


def _register(inst, *, year: int, region: str = "110101", subject: str = "拖欠工資") -> str:
    with inst.unit_of_work() as s:
        record = operations.register(s, letter_data(received_at=f"{year}-04-01T10:00", region=region,
                                                     subject=subject), by=_user(s, "clerk"))
        return record.serial


def _store(inst, serial: str) -> None:
    """The workflow's ``store`` transition, as the web and the API apply it."""
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        workflow.transition(s, record, "store", by=_user(s, "chief"), reason="no_reference_value",
                            confirm_old_received_date=True)  # received years ago (records.cases.received)


def _subject(inst, serial: str) -> str:
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        return operations.document(s, record)["subject"]


def _fresh(settings):
    """A new process's view: keyring and batch keys read from the files, nothing cached."""
    return build_instance(settings)


def test_store_rotate_retire_then_the_stored_letter_still_opens(own):
    serial = _register(own, year=2024, subject="存信後輪換")
    _store(own, serial)
    with own.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        batch = s.execute(select(Batch).where(Batch.region_code == "110101", Batch.year == 2024)).scalar_one()
        assert record.key.wrapped_by == batch.key_ref, "stored: the data key is under its batch key"
    assert keys.usage(own)["batch key files"] == {"master:1": 1}

    report = keys.rotate(own)
    assert report.by_holder == {"batch key files": 1}
    assert keys.usage(own)["batch key files"] == {"master:2": 1}
    keys.retire(own, 1)

    fresh = _fresh(own.settings)
    try:
        assert _subject(fresh, serial) == "存信後輪換"
    finally:
        fresh.close()


_NO_RETENTION_IMPORT = textwrap.dedent("""
    import sys
    from sqlalchemy import select
    from app.composition import build_instance
    from records.cases import workflow
    from records.models import Record
    from records.accounts.models import User
    from records.settings import Settings
    assert "retention.hooks" not in sys.modules
    inst = build_instance(Settings.from_env({}, home=sys.argv[1], database_url=sys.argv[2]))
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == sys.argv[3])).scalar_one()
        chief = s.execute(select(User).where(User.username == "chief")).scalar_one()
        workflow.transition(s, record, "store", by=chief, reason="no_reference_value", confirm_old_received_date=True)
    with inst.unit_of_work() as s:
        print(s.execute(select(Record).where(Record.serial == sys.argv[3])).scalar_one().key.wrapped_by)
""")


def test_a_process_that_only_builds_the_instance_rewraps_on_store(own):
    """Whatever the process imported, the composition root decides: stored -> batch key."""
    serial = _register(own, year=2024)
    out = subprocess.run([sys.executable, "-c", _NO_RETENTION_IMPORT, str(own.settings.home),
                          own.settings.database_url, serial], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().startswith("batch:")


def test_retire_refuses_naming_the_holder_and_count(own):
    active = _register(own, year=2026)
    stored = _register(own, year=2024, region="110102")
    _store(own, stored)
    keys.add_version(own)          # a rotation that never re-wrapped anything
    with pytest.raises(Conflict) as refused:
        keys.retire(own, 1)
    message = str(refused.value)
    assert "record keys: 1" in message and "batch key files: 1" in message, message
    keys.rotate(own)               # resumes: re-wraps both holders, adds no version
    assert keys.usage(own)["record keys"].get("master:1", 0) == 0
    keys.retire(own, 1)
    assert _subject(own, active) and _subject(own, stored)


def test_every_letter_opens_after_rotate_and_retire_and_destruction_still_shreds(own, tmp_path):
    active = _register(own, year=2026, subject="在辦")
    sealed = [_register(own, year=2023, region="110105", subject=f"封存{i}") for i in range(3)]
    for serial in sealed:
        _store(own, serial)
    with own.unit_of_work() as s:
        batch = s.execute(select(Batch).where(Batch.region_code == "110105", Batch.year == 2023)).scalar_one()
        ret.seal(s, batch, by=_user(s, "archivist"), today=TODAY)
        ret.propose(s, batch, by=_user(s, "archivist"))
        ret.approve(s, batch, by=_user(s, "leader"))
        ret.hold(s, by=_user(s, "leader"), reason="court request", serial=sealed[0])
        batch_id = batch.id

    report = keys.rotate(own, batch=1)
    assert report.remaining == 0 and report.by_holder["batch key files"] == 1
    keys.retire(own, 1)
    fresh = _fresh(own.settings)
    try:
        assert _subject(fresh, active) == "在辦"
        for i, serial in enumerate(sealed):
            assert _subject(fresh, serial) == f"封存{i}"
    finally:
        fresh.close()

    backup = tmp_path / "before-run.sqlite3"
    with sqlite3.connect(own.settings.home / "x.sqlite3") as src, sqlite3.connect(backup) as dst:
        src.backup(dst)   # a consistent online copy (the WAL included)
    reports = destroy.run(own, batch_id=batch_id, by_id=None, today=TODAY)
    assert reports and reports[0].certificate and reports[0].residue_clean
    assert _subject(own, sealed[0]) == "封存0", "the held letter survives, under the new key generation"

    # a database backup taken before the run, with today's keys: the destroyed letters stay shut
    old = build_instance(own.settings.with_(database_url=f"sqlite:///{backup}"))
    try:
        with pytest.raises(CryptoError):
            _subject(old, sealed[1])
        assert _subject(old, active) == "在辦"
    finally:
        old.close()


def test_rotation_of_an_env_keyring_reaches_batch_key_files(own):
    """With the master key from the environment the operator rotates there; ``rotate``
    (no new version) then re-wraps the holders, key files included."""
    stored = _register(own, year=2024)
    _store(own, stored)
    ring = crypto.Keyring.from_json(own.settings.key_file.read_text())
    ring.versions[2] = crypto.new_key()
    ring.current = 2
    env_inst = build_instance(own.settings.with_(master_key_source="env"), keyring=ring)
    try:
        report = keys.rotate(env_inst, new_version=False)
        assert report.by_holder.get("batch key files") == 1
        assert keys.usage(env_inst)["batch key files"] == {"master:2": 1}
        assert _subject(env_inst, stored)
    finally:
        env_inst.close()


def test_bare_instance_refuses_key_lifecycle(own):
    from records.instance import Instance

    bare = Instance(own.settings)
    try:
        with pytest.raises(Exception, match="build_instance"):
            keys.rotate(bare)
    finally:
        bare.close()


def test_backup_and_restore_keep_stored_letters_readable(own, tmp_path):
    """The batch key files travel with the key store: a restored instance verifies (opens
    every letter, stored ones included) and the stored letter opens after a rotation."""
    from records.backup import backup, restore

    stored = _register(own, year=2024, subject="備份中的存信")
    _store(own, stored)
    keys.rotate(own)
    backup(own, tmp_path / "bk")
    home = tmp_path / "restored"
    target = Settings.from_env({}, home=str(home), database_url=f"sqlite:///{home / 'xinfang.sqlite3'}")
    report = restore(target, tmp_path / "bk" / "data", tmp_path / "bk" / "keys", build=build_instance)
    assert not report.problems and report.records == 1
    restored = build_instance(target)
    try:
        assert _subject(restored, stored) == "備份中的存信"
        assert keys.usage(restored)["batch key files"] == {"master:2": 1}
    finally:
        restored.close()


_IMPORT_EVERYTHING = textwrap.dedent("""
    import importlib, pkgutil
    from sqlalchemy.orm import Session
    import records, search, retention
    for package in (records, search, retention):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" not in info.name and not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    s = Session()
    hooks = {name: len(getattr(s.dispatch, name)) for name in
             ("before_flush", "after_flush", "before_commit", "after_commit", "after_rollback")}
    assert not any(hooks.values()), hooks
    from records.instance import Instance
    from records.settings import Settings
    bare = Instance(Settings.from_env({}, home="/nonexistent"))
    assert not bare.key_providers and bare.keystore is None and not bare.on_stored and not bare.master_wrapped
    assert not bare.jobs.kinds()
    print("ok")
""")


def test_importing_every_module_wires_nothing():
    """No session listener, no key provider, no hook comes from importing a module: only
    ``build_instance`` registers collaborators."""
    out = subprocess.run([sys.executable, "-c", _IMPORT_EVERYTHING], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]
