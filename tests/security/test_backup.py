"""Online backup while another thread registers; restore into a fresh folder; every record
readable; restore refuses to overwrite an instance; keys kept apart from the data."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from records.accounts import operations as accounts
from records.cases import operations
from records.backup import backup, restore
from records.settings import Settings
from records.errors import Conflict, ValidationError
from app.composition import build_instance
from records.models import Record
from records.cases.operations import Upload
from records.setup import init_instance
from tests.conftest import letter_data


@pytest.fixture
def own(tmp_path):
    s = Settings.from_env({}, home=str(tmp_path / "live"), database_url=f"sqlite:///{tmp_path / 'live' / 'x.sqlite3'}")
    init_instance(s)
    inst = build_instance(s)
    with inst.unit_of_work() as sess:
        clerk = accounts.create_user(sess, "clerk1", "test-password-123", ["clerk"], office="XFB")
        for i in range(15):
            operations.register(sess, letter_data(subject=f"第{i}封"), by=clerk,
                                uploads=[Upload(f"scan{i}.txt", f"掃描件{i}".encode())] if i % 3 == 0 else [])
    yield inst
    inst.close()


def _fresh(tmp_path, name="restored") -> Settings:
    home = tmp_path / name
    return Settings.from_env({}, home=str(home), database_url=f"sqlite:///{home / 'xinfang.sqlite3'}")


def test_backup_while_registering_then_restore(own, tmp_path):
    stop = threading.Event()
    written = []

    def writer():
        with own.unit_of_work() as s:
            clerk = accounts.get_user(s, "clerk1")
            clerk_id = clerk.id
        from records.accounts.models import User

        while not stop.is_set():
            with own.unit_of_work() as s:
                r = operations.register(s, letter_data(subject="並發登記"), by=s.get(User, clerk_id),
                                        uploads=[Upload("a.txt", "附件".encode())])
                written.append(r.serial)

    t = threading.Thread(target=writer)
    t.start()
    try:
        while len(written) < 3:
            pass
        report = backup(own, tmp_path / "bk")
    finally:
        stop.set()
        t.join()
    assert len(written) >= 3
    data, keys = tmp_path / "bk" / "data", tmp_path / "bk" / "keys"
    assert (keys / "master.key").is_file() and not (data / "master.key").exists()
    assert not any(p.name == "master.key" for p in data.rglob("*")), "keys are kept apart from the data"
    assert (keys / "master.key").stat().st_mode & 0o777 == 0o600
    assert report.records >= 15

    target = _fresh(tmp_path)
    result = restore(target, data, keys, build=build_instance)
    assert result.records == report.records and not result.problems
    assert result.attachments == report.attachments
    inst = build_instance(target)
    try:
        with inst.unit_of_work() as s:
            n = s.execute(select(func.count()).select_from(Record)).scalar_one()
            assert n == report.records
            for r in s.execute(select(Record)).scalars():
                assert operations.document(s, r)["subject"]
    finally:
        inst.close()


def test_restore_refuses_an_existing_instance_and_bad_sources(own, tmp_path):
    backup(own, tmp_path / "bk")
    with pytest.raises(Conflict):
        restore(own.settings, tmp_path / "bk" / "data", tmp_path / "bk" / "keys", build=build_instance)
    with pytest.raises(ValidationError):
        restore(_fresh(tmp_path, "a"), tmp_path / "bk" / "keys", tmp_path / "bk" / "keys", build=build_instance)
    with pytest.raises(ValidationError):
        restore(_fresh(tmp_path, "b"), tmp_path / "bk" / "data", tmp_path / "bk" / "data", build=build_instance)
    with pytest.raises(Conflict):
        backup(own, tmp_path / "bk")   # not into a non-empty folder


def test_restore_with_the_wrong_keys_leaves_nothing(own, tmp_path):
    backup(own, tmp_path / "bk")
    other = _fresh(tmp_path, "other")
    init_instance(other)
    target = _fresh(tmp_path, "target")
    from records.errors import CryptoError

    with pytest.raises(CryptoError):
        restore(target, tmp_path / "bk" / "data", other.keystore_dir, build=build_instance)
    assert not target.home.exists() or not any(target.home.rglob("*.sqlite3"))
    assert not target.key_file.exists()


def test_cli_backup_and_restore(own, tmp_path):
    from app import create_app
    from app.cli import cli

    application = create_app({"XINFANG_SETTINGS": own.settings, "TESTING": True, "SECRET_KEY": "x"})
    r = application.test_cli_runner().invoke(cli, args=["backup", str(tmp_path / "cli-bk")])
    assert r.exit_code == 0, r.output
    assert "different media" in r.output
    application.extensions["xinfang"].close()
    target = _fresh(tmp_path, "cli-restored")
    restored_app = create_app({"XINFANG_SETTINGS": target, "TESTING": True, "SECRET_KEY": "x"})
    r = restored_app.test_cli_runner().invoke(cli, args=["restore", str(tmp_path / "cli-bk"),
                                                        "--keys", str(tmp_path / "cli-bk" / "keys")])
    assert r.exit_code == 0, r.output
    assert "15 records" in r.output
    r = restored_app.test_cli_runner().invoke(cli, args=["restore", str(tmp_path / "cli-bk"),
                                                        "--keys", str(tmp_path / "cli-bk" / "keys")])
    assert r.exit_code == 1 and "fresh instance" in r.output
    restored_app.extensions["xinfang"].close()
