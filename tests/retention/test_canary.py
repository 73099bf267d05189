"""Nothing of a destroyed letter survives anywhere under the instance folder (nor, on
PostgreSQL, in the relation files of the tables the run touched), and a copy of the
database taken before the run cannot open it, even with the master key.

The copy is a file copy of the SQLite database, or a ``pg_dump`` restored into a database
of its own on PostgreSQL; either way the key store is the live one, as on the server."""
from __future__ import annotations

import glob
import json
import shutil
import subprocess
import uuid

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from records.cases import operations
from records.settings import Settings
from records.errors import CryptoError
from app.composition import build_instance
from records.instance import Instance
from records.models import Attachment, Record
from records.accounts.models import User
from records.cases.operations import Upload
from retention import compaction, destroy, residue
from retention.models import Certificate

from .conftest import TODAY, approved_batch

CANARY = "金絲雀CANARY7Q"


def _all_bytes(home):
    for p in home.rglob("*"):
        if p.is_file() and not p.is_symlink():
            yield p, p.read_bytes()


def _read_body(inst, serial, user_id):
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        return operations.view(s, record, s.get(User, user_id)).content["body"]



# -- the copy of the database taken before the run ------------------------------------------------
def _pg_tool(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    tool = found[-1] if found else shutil.which(name)
    if tool is None:
        pytest.skip(f"{name} (PostgreSQL client programs) is not installed")
    return tool


def _libpq(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class _Backup:
    """The database as it was before the run, plus the live key folder (master key included)."""

    def __init__(self, settings, home):
        self.home, self.pg_name, self.admin = home, None, None
        (home / "keys").symlink_to(settings.keystore_dir)
        if settings.is_sqlite:
            shutil.copy2(settings.home / "xinfang.sqlite3", home / "xinfang.sqlite3")
            url = f"sqlite:///{home / 'xinfang.sqlite3'}"
        else:
            source = make_url(settings.database_url)
            self.pg_name = "xft_copy_" + uuid.uuid4().hex[:10]
            self.admin = create_engine(source, isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.pg_name}"'))
            target = source.set(database=self.pg_name)
            dump = home / "before-run.sql"
            subprocess.run([_pg_tool("pg_dump"), "--no-owner", "-f", str(dump), _libpq(source)],
                           check=True, capture_output=True, timeout=120)
            subprocess.run([_pg_tool("psql"), "-q", "-v", "ON_ERROR_STOP=1", "-f", str(dump), _libpq(target)],
                           check=True, capture_output=True, timeout=120)
            dump.unlink()   # the test keeps the restored database, not the dump
            url = target.render_as_string(hide_password=False)
        self.settings = Settings.from_env({}, home=str(home), database_url=url)
        self.inst = build_instance(self.settings)

    def reopen(self) -> Instance:
        """A fresh instance on the copy (no key cached in memory from before the run)."""
        self.inst.close()
        self.inst = build_instance(self.settings)
        return self.inst

    def close(self):
        self.inst.close()
        if self.pg_name:
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)'))
            self.admin.dispose()


# -- PostgreSQL relation files ------------------------------------------------------------------
def _relation_files(inst):
    """The relation files of the tables a run touches (their TOAST tables and indexes too), or
    None when the server's data directory cannot be read from here."""
    with inst.db.engine.connect() as conn:
        return residue.relation_files(conn, destroy.affected_tables())


def _checkpoint(inst):
    with inst.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))


def test_canaries_and_ciphertext_gone_and_old_copy_cannot_decrypt(inst, settings, make_user, store_letters,
                                                                    tmp_path):
    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    scan = Upload("scan.txt", f"掃描件 {CANARY}-blob".encode())
    serials = store_letters(clerk, 5, region="110112", year=2020, canary=CANARY, uploads=[scan])
    with inst.unit_of_work() as s:
        records = s.execute(select(Record).where(Record.serial.in_(serials))).scalars().all()
        table_fragments = [r.document_sealed[20:52] for r in records] + [r.key.wrapped_key[13:45] for r in records]
        fragments = list(table_fragments)
        for a in s.execute(select(Attachment).where(Attachment.record_id.in_([r.id for r in records]))).scalars():
            fragments.append(inst.blobs.get(a.uid)[40:72])
            fragments.append(a.filename_sealed[13:45])
    batch_id = approved_batch(inst, archivist, leader, "110112", 2020)
    # the backup: database (SQLite checkpointed; PostgreSQL dumped) and master key, before the run
    destroy.compact(inst)
    backup_home = tmp_path / "backup"
    backup_home.mkdir()
    backup = _Backup(settings, backup_home)
    try:
        assert CANARY in _read_body(backup.inst, serials[0], clerk.id)   # the backup works before the run

        before = None
        if not settings.is_sqlite:
            before = _relation_files(inst)
            if before is not None:
                # the relation files do hold the ciphertext before the run: the check below can see it
                _checkpoint(inst)
                data = b"".join(p.read_bytes() for p in before)
                assert all(f in data for f in table_fragments)

        reports = destroy.run(inst, batch_id=batch_id, today=TODAY)
        assert reports[0].residue_clean and len(reports[0].letters) == 5

        needles = [CANARY.encode(), CANARY.encode("utf-16-le")] + fragments
        for path, data in _all_bytes(settings.home):
            for needle in needles:
                assert needle not in data, f"residue of a destroyed letter in {path}"

        with inst.unit_of_work() as s:
            cert = s.execute(select(Certificate).where(Certificate.batch_id == batch_id)).scalar_one()
            verification = json.loads(cert.body)["verification"]
        assert verification["clean"] and verification["rows_left"] == 0
        if settings.is_sqlite:
            assert verification["method"] == "database files"
        else:
            assert verification["tables_scanned"] > 5
            after = _relation_files(inst)
            if before is None:
                assert verification["method"] == "database query"
            else:
                # VACUUM FULL rewrote the tables: the files scanned now are new ones, without the rows
                assert verification["method"] == "database query + relation files"
                assert after and verification["relation_files_scanned"] == len(after)
                _checkpoint(inst)
                for path in after:
                    data = path.read_bytes()
                    for needle in needles:
                        assert needle not in data, f"residue of a destroyed letter in {path}"

        # the copy still has every row, and the master key; the batch key is gone
        copy = backup.reopen()
        with copy.unit_of_work() as s:
            assert s.execute(select(Record).where(Record.serial.in_(serials))).scalars().all()
        with pytest.raises(CryptoError):
            _read_body(copy, serials[0], clerk.id)
    finally:
        backup.close()


def test_ciphertext_copied_into_another_table_fails_the_check(inst, settings, make_user, store_letters):
    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    serials = store_letters(clerk, 2, region="110114", year=2020)
    survivor = store_letters(clerk, 1, region="110115", year=2021)[0]   # another batch, not destroyed
    with inst.unit_of_work() as s:
        leaked = s.execute(select(Record.document_sealed).where(Record.serial == serials[0])).scalar_one()
    batch_id = approved_batch(inst, archivist, leader, "110114", 2020)
    with inst.db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE leak_copy (id INTEGER PRIMARY KEY, data BYTEA)"))
        conn.execute(text("INSERT INTO leak_copy (id, data) VALUES (1, :d)"), {"d": leaked})
    try:
        reports = destroy.run(inst, batch_id=batch_id, today=TODAY)
        assert reports[0].residue_clean is False
        with inst.unit_of_work() as s:
            cert = s.execute(select(Certificate).where(Certificate.batch_id == batch_id)).scalar_one()
            verification = json.loads(cert.body)["verification"]
        assert not verification["clean"] and verification["residue_found"] >= 1
        assert {h["serial"] for h in verification["residue"]} == {serials[0]}
        if not settings.is_sqlite:
            assert "table leak_copy" in {h["file"] for h in verification["residue"]}
            # a row still keyed by a letter's id is residue too (here: a letter that is alive)
            with inst.unit_of_work() as s:
                alive = s.execute(select(Record.id).where(Record.serial == survivor)).scalar_one()
            check = residue.scan_postgresql(inst.db.engine, residue.Needles(), record_ids=[alive],
                                            keyed_tables=destroy.keyed_tables(), affected=destroy.affected_tables())
            assert not check.clean and check.rows_left >= 2   # its row in records and its record_keys row
            assert {"table records", "table record_keys"} <= {h["file"] for h in check.hits}
    finally:
        with inst.db.engine.begin() as conn:
            conn.execute(text("DROP TABLE leak_copy"))
        destroy.compact(inst)


def test_compaction_waits_for_snapshots_older_than_the_deletions(inst, settings):
    """PostgreSQL: VACUUM FULL keeps a deleted row while an older snapshot may still see it,
    so the run waits for such transactions (an app request, a pg_dump) before compacting."""
    if settings.is_sqlite:
        pytest.skip("PostgreSQL only: VACUUM FULL keeps rows an older snapshot may still see")
    reader = inst.db.engine.connect()
    try:
        reader.execute(text("BEGIN ISOLATION LEVEL REPEATABLE READ"))
        reader.execute(text("SELECT count(*) FROM records")).scalar_one()   # takes the snapshot
        with inst.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT pg_current_xact_id()"))   # a write committed after the snapshot
            assert compaction._wait_for_older_snapshots(conn, timeout=0.5) is False
            reader.rollback()
            assert compaction._wait_for_older_snapshots(conn, timeout=10) is True
    finally:
        reader.close()


def test_compaction_does_not_wait_for_a_lazy_vacuum_and_still_removes_the_deleted_rows(inst, settings):
    """PostgreSQL: autovacuum of a large table (or an operator's plain VACUUM) holds an old
    snapshot for minutes, but PostgreSQL leaves a lazy VACUUM out when VACUUM FULL decides
    which dead rows it may remove. So the wait does not wait for it (a destruction waited
    its whole timeout, 30 s of 42, while autovacuum worked through a freshly loaded table),
    and the deleted row is still gone from the rewritten table."""
    if settings.is_sqlite:
        pytest.skip("PostgreSQL only: a lazy VACUUM's snapshot")
    import threading
    import time

    engine = inst.db.engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CREATE TABLE lazy_vacuum_probe AS "
                          "SELECT g AS n, repeat('x', 200) AS pad FROM generate_series(1, 20000) g"))
        conn.execute(text("CREATE TABLE lazy_vacuum_canary (secret text)"))
    vacuum = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    pid = vacuum.execute(text("SELECT pg_backend_pid()")).scalar_one()
    errors: list[BaseException] = []

    def slow_vacuum():   # a page at a time, 100 ms after each: about a minute unless cancelled
        try:
            vacuum.execute(text("SET vacuum_cost_delay = 100"))
            vacuum.execute(text("SET vacuum_cost_limit = 1"))
            vacuum.execute(text("VACUUM lazy_vacuum_probe"))
        except Exception as exc:  # noqa: BLE001 - cancelled below
            errors.append(exc)

    worker = threading.Thread(target=slow_vacuum)
    worker.start()
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            deadline = time.monotonic() + 20
            while not conn.execute(text("SELECT count(*) FROM pg_stat_progress_vacuum WHERE pid = :p"),
                                   {"p": pid}).scalar_one():
                assert time.monotonic() < deadline, "the VACUUM did not start"
                time.sleep(0.05)
            assert conn.execute(text("SELECT backend_xmin IS NOT NULL FROM pg_stat_activity WHERE pid = :p"),
                                {"p": pid}).scalar_one()
            conn.execute(text("INSERT INTO lazy_vacuum_canary VALUES ('canary')"))
            conn.execute(text("DELETE FROM lazy_vacuum_canary"))   # after the VACUUM's snapshot
            assert compaction._wait_for_older_snapshots(conn, timeout=10) is True
            assert worker.is_alive()   # the VACUUM was still running, and not waited for
            conn.execute(text("VACUUM FULL lazy_vacuum_canary"))
            # an empty heap: the deleted row was not kept as "recently dead"
            assert conn.execute(text("SELECT pg_relation_size('lazy_vacuum_canary')")).scalar_one() == 0
    finally:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_cancel_backend(:p)"), {"p": pid})
        worker.join(30)
        vacuum.close()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("DROP TABLE lazy_vacuum_probe, lazy_vacuum_canary"))
    assert not worker.is_alive()


def test_tokens_a_kept_letter_still_holds_are_not_residue(inst, make_user, store_letters):
    """The same petitioner's letter of another batch keeps its identity tokens: the destroyed
    letter's equal tokens are left out of the check (counted), every other one is looked for."""
    from records.models import IdentityToken
    from retention.certificate import _surviving_tokens

    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    store_letters(clerk, 2, region="110116", year=2019)    # petitioners 測試0 and 測試1
    kept = store_letters(clerk, 1, region="110117", year=2019)[0]   # 測試0 again, another batch
    with inst.unit_of_work() as s:
        kept_id = s.execute(select(Record.id).where(Record.serial == kept)).scalar_one()
        held = {residue.token_digest(t) for (t,) in s.execute(
            select(IdentityToken.token).where(IdentityToken.record_id == kept_id))}
        assert held and _surviving_tokens(s, held | {"0" * 64}) == held
        assert _surviving_tokens(s, set()) == set()
    reports = destroy.run(inst, batch_id=approved_batch(inst, archivist, leader, "110116", 2019), today=TODAY)
    assert reports[0].residue_clean is True
    with inst.unit_of_work() as s:
        verification = json.loads(s.execute(select(Certificate.body).where(
            Certificate.number == reports[0].certificate)).scalar_one())["verification"]
        # each destroyed letter's token equal to one of the kept letter's (both share its address)
        assert verification["shared_tokens_skipped"] >= len(held)
        assert {residue.token_digest(t) for (t,) in s.execute(
            select(IdentityToken.token).where(IdentityToken.record_id == kept_id))} == held
