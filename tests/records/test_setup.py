"""`xinfang init`: creates the instance (folders, key file 0600, database, reference data),
says so when there is nothing to do, refuses a database without its key, and never
overwrites a key file."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.cli import cli
from records import crypto
from records.settings import Settings
from records.errors import ConfigurationError
from app.composition import build_instance
from records.reference.models import Office, Region
from records.reference.regions import national_list
from records.reference.seed import OFFICES
from records.setup import init_instance

#: Variables that would point the command somewhere else than the test's folder.
_CLEAR = ("XINFANG_DATABASE_URL", "XINFANG_MASTER_KEY", "XINFANG_MASTER_KEY_SOURCE", "XINFANG_MASTER_KEY_FILE",
          "XINFANG_SECRET_KEY", "FLASK_APP")


def xinfang(home: Path, *args: str):
    """Run the `xinfang` console command as a user would, with XINFANG_HOME set."""
    env = {k: None for k in _CLEAR}
    env["XINFANG_HOME"] = str(home)
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_a_fresh_instance(tmp_path):
    home = tmp_path / "instance"
    result = xinfang(home, "init")
    assert result.exit_code == 0, result.output
    assert "created" in result.output and "master key" in result.output
    key = home / "keys" / "master.key"
    db = home / "xinfang.sqlite3"
    assert key.is_file() and _mode(key) == 0o600
    assert _mode(home / "keys") == 0o700
    assert _mode(home / "keys" / "session.secret") == 0o600
    assert db.is_file() and _mode(db) == 0o600
    for folder in ("blobs", "index"):
        assert (home / folder).is_dir() and _mode(home / folder) == 0o700
    # the key file is a valid keyring and the database has its reference data
    crypto.Keyring.from_json(key.read_text())
    inst = build_instance(Settings.from_env({}, home=str(home)))
    try:
        with inst.unit_of_work() as s:
            assert s.execute(select(func.count()).select_from(Office)).scalar_one() == len(OFFICES)
            assert s.execute(select(func.count()).select_from(Region)).scalar_one() == len(national_list())
            assert s.execute(select(Office).where(Office.is_intake.is_(True))).scalar_one().code == "XFB"
    finally:
        inst.close()
    # and the fresh audit trail verifies
    result = xinfang(home, "audit", "verify")
    assert result.exit_code == 0 and "intact" in result.output


def test_second_run_has_nothing_to_do_and_keeps_the_key(tmp_path):
    home = tmp_path / "instance"
    assert xinfang(home, "init").exit_code == 0
    key = home / "keys" / "master.key"
    key_bytes, db_bytes_size = key.read_bytes(), (home / "xinfang.sqlite3").stat().st_size
    secret = (home / "keys" / "session.secret").read_bytes()
    result = xinfang(home, "init")
    assert result.exit_code == 0, result.output
    assert "nothing to do" in result.output
    assert "created" not in result.output
    assert key.read_bytes() == key_bytes and _mode(key) == 0o600
    assert (home / "keys" / "session.secret").read_bytes() == secret
    assert (home / "xinfang.sqlite3").stat().st_size >= db_bytes_size


def test_a_database_without_its_key_is_refused(tmp_path):
    home = tmp_path / "instance"
    assert xinfang(home, "init").exit_code == 0
    key = home / "keys" / "master.key"
    kept = tmp_path / "master.key.elsewhere"
    key.rename(kept)
    kept_bytes = kept.read_bytes()
    result = xinfang(home, "init")
    assert result.exit_code != 0
    assert "no master key" in result.output and "Restore" in result.output
    assert not key.exists(), "init created a new key for a database written with another one"
    assert kept.read_bytes() == kept_bytes
    # putting the key back makes the instance whole again
    kept.rename(key)
    result = xinfang(home, "init")
    assert result.exit_code == 0 and "nothing to do" in result.output


def test_a_key_without_a_database_is_kept(tmp_path):
    home = tmp_path / "instance"
    assert xinfang(home, "init").exit_code == 0
    key = home / "keys" / "master.key"
    before = key.read_bytes()
    (home / "xinfang.sqlite3").unlink()
    result = xinfang(home, "init")
    assert result.exit_code == 0, result.output
    assert "kept" in result.output and "database schema" in result.output
    assert key.read_bytes() == before
    assert (home / "xinfang.sqlite3").is_file()


def test_an_unreadable_key_file_is_not_replaced(tmp_path):
    """Even a damaged key file is someone's key: init never writes over it."""
    home = tmp_path / "instance"
    settings = Settings.from_env({}, home=str(home))
    settings.keystore_dir.mkdir(parents=True, mode=0o700)
    fd = os.open(settings.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"damaged")
    os.close(fd)
    init_instance(settings)
    assert settings.key_file.read_bytes() == b"damaged"
    with pytest.raises(ConfigurationError):
        _ = build_instance(settings).keyring


def test_the_key_file_is_never_overwritten_across_runs(tmp_path):
    home = tmp_path / "instance"
    key = home / "keys" / "master.key"
    assert xinfang(home, "init").exit_code == 0
    original = key.read_bytes()
    mtime = key.stat().st_mtime_ns
    for _ in range(3):
        xinfang(home, "init")
    assert key.read_bytes() == original and key.stat().st_mtime_ns == mtime


def test_init_through_an_app_built_for_the_folder(tmp_path):
    """The same command on an app made with create_app({"XINFANG_HOME": ...})."""
    from app import create_app

    home = tmp_path / "instance"
    app = create_app({"XINFANG_HOME": str(home), "ENVIRON": {"XINFANG_HOME": str(home)}, "TESTING": True})
    try:
        runner = app.test_cli_runner()
        result = runner.invoke(cli, ["init"])
        assert result.exit_code == 0, result.output
        assert (home / "keys" / "master.key").is_file()
        result = runner.invoke(cli, ["init"])
        assert result.exit_code == 0 and "nothing to do" in result.output
    finally:
        app.extensions["xinfang"].close()


def test_env_master_key_creates_no_key_file(tmp_path):
    ring = crypto.Keyring.generate()
    settings = Settings.from_env({"XINFANG_MASTER_KEY": ring.to_json()}, home=str(tmp_path / "instance"))
    assert settings.master_key_source == "env"
    report = init_instance(settings)
    assert not settings.key_file.exists()
    assert "database schema" in report.created
    assert init_instance(settings).nothing_to_do


def test_init_report_lists_what_it_did(tmp_path):
    settings = Settings.from_env({}, home=str(tmp_path / "instance"))
    first = init_instance(settings)
    assert not first.nothing_to_do
    assert any("master key" in line and "0600" in line for line in first.created)
    assert "database schema" in first.created
    second = init_instance(settings)
    assert second.nothing_to_do and second.created == []
    assert any("master key" in line for line in second.existing) and "database" in second.existing
