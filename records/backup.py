"""Online backup and restore of an instance (SQLite).

``backup(inst, DEST)`` writes two folders, while the service keeps running:

* ``DEST/data`` — a consistent copy of the database (SQLite's online backup API: one
  snapshot, taken page by page while writers continue), the encrypted blobs and the search
  index, with a ``manifest.json``;
* ``DEST/keys`` — the key store (master keyring, session secret, batch keys).

Keep the two on **different media** (DESIGN.md): the data copy alone is ciphertext nobody can
read, the keys alone hold no letter. Move ``DEST/keys`` to its own medium right away.
The database is copied first, then blobs (written before their row commits, so every blob
the snapshot names exists), then the index (rebuildable from the database), then the keys
(versions are only ever added by rotation, so the keyring read after the snapshot opens it).

``restore(settings, SRC, KEYSRC)`` copies both into a fresh instance — it refuses to touch
one that already has a database or a key — then verifies that every record, earlier version,
event note and attachment decrypts, and that the audit chain is intact; if anything fails,
what it copied is removed again.

PostgreSQL: not done here. Back the database up with ``pg_dump --format=custom`` (online and
consistent), copy the blob folder after it and the key store to separate media; restore with
``pg_restore`` into an empty database, then copy the blobs and keys back.
"""
from __future__ import annotations

import contextlib

import datetime as dt
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from records import audit, sealing
from records.settings import Settings
from records.errors import ConfigurationError, Conflict, CryptoError, ValidationError
from records.instance import Instance
from records.models import Attachment, Record, RecordEvent, RecordVersion

DB_NAME = "xinfang.sqlite3"
MANIFEST = "manifest.json"


@dataclass
class BackupReport:
    data_dir: Path
    keys_dir: Path
    records: int
    attachments: int
    blobs: int
    index_files: int


@dataclass
class RestoreReport:
    records: int = 0
    attachments: int = 0
    versions: int = 0
    audit_entries: int = 0
    problems: list[str] = field(default_factory=list)


def _sqlite_path(settings: Settings) -> Path:
    if not settings.is_sqlite:
        raise ConfigurationError(
            "Online backup here is for SQLite. For PostgreSQL use pg_dump --format=custom for the database, "
            "then copy the blob folder and the key store to separate media (see records/backup.py).")
    return Path(make_url(settings.database_url).database)


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=False, mode=0o700)


def _copy_tree(src: Path, dst: Path, *, skip=lambda p: False) -> int:
    """Copy files that exist now (new ones may appear while we copy; vanished ones are skipped)."""
    count = 0
    if not src.is_dir():
        dst.mkdir(parents=True, exist_ok=True, mode=0o700)
        return 0
    for root, _dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        target = dst / rel
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in files:
            source = Path(root) / name
            if skip(source):
                continue
            try:
                shutil.copy2(source, target / name)
            except FileNotFoundError:
                continue
            os.chmod(target / name, 0o600)
            count += 1
    return count


def backup(inst: Instance, dest: Path, *, progress: Callable[[str], None] | None = None,
           index_lock: Callable[[], contextlib.AbstractContextManager] | None = None) -> BackupReport:
    """Consistent online copy into ``dest/data`` and ``dest/keys`` (see the module docstring).

    ``index_lock`` is the search index's writer lock (the caller passes it: ``records`` does
    not import ``search``); held while the index folder is copied, so no segment is half-written."""
    settings = inst.settings
    db_path = _sqlite_path(settings)
    dest = Path(dest).resolve()
    if dest.exists() and any(dest.iterdir()):
        raise Conflict(f"{dest} exists and is not empty; choose a new folder for the backup.")
    if dest == settings.home or settings.home in dest.parents:
        raise ValidationError("The backup must not be written inside the instance folder.")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    data, keys = dest / "data", dest / "keys"
    _private_dir(data)
    _private_dir(keys)
    say = progress or (lambda _m: None)

    say("database")
    target = data / DB_NAME
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    src = sqlite3.connect(db_path, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=1024)
        dst.execute("PRAGMA journal_mode=DELETE")
        counts = {
            "records": dst.execute("SELECT count(*) FROM records").fetchone()[0],
            "attachments": dst.execute("SELECT count(*) FROM attachments").fetchone()[0],
            "revisions": [r[0] for r in dst.execute("SELECT version_num FROM alembic_version")],
        }
    finally:
        dst.close()
        src.close()

    say("blobs")
    blobs = _copy_tree(settings.blob_dir, data / "blobs", skip=lambda p: p.suffix == ".part")
    say("index")
    with index_lock() if index_lock is not None else contextlib.nullcontext():
        index_files = _copy_tree(settings.index_dir, data / "index")

    say("keys")
    _copy_tree(settings.keystore_dir, keys, skip=lambda p: p.name.endswith(".new"))
    if settings.master_key_source == "file" and settings.key_file.parent != settings.keystore_dir:
        shutil.copy2(settings.key_file, keys / "master.key")
        os.chmod(keys / "master.key", 0o600)
    note = ("The master keyring comes from the environment variable %s: back it up separately.\n"
            % settings.master_key_env) if settings.master_key_source == "env" else ""
    (keys / "README.txt").write_text(
        "Xinfang Records key store. Keep this folder on different media from the data folder.\n" + note)
    manifest = {"format": "xinfang-backup-1", "created_at": dt.datetime.now(dt.UTC).isoformat(),
                "blobs": blobs, "index_files": index_files, **counts}
    (data / MANIFEST).write_text(json.dumps(manifest, indent=1))
    with inst.unit_of_work() as s:
        audit.record(s, "backup.create", actor_name="system",
                     detail={"records": counts["records"], "attachments": counts["attachments"]})
    return BackupReport(data_dir=data, keys_dir=keys, records=counts["records"], attachments=counts["attachments"],
                        blobs=blobs, index_files=index_files)


def _is_fresh(settings: Settings) -> list[str]:
    problems = []
    db_path = _sqlite_path(settings)
    if db_path.exists() and db_path.stat().st_size > 0:
        problems.append(f"a database exists at {db_path}")
    if settings.master_key_source == "file" and settings.key_file.exists():
        problems.append(f"a master key exists at {settings.key_file}")
    if settings.blob_dir.is_dir() and any(settings.blob_dir.iterdir()):
        problems.append(f"the blob folder {settings.blob_dir} is not empty")
    return problems


def restore(settings: Settings, src: Path, keys_src: Path, *, build: Callable[[Settings], Instance],
            progress: Callable[[str], None] | None = None) -> RestoreReport:
    """Restore a backup into a fresh instance at ``settings.home`` and verify every record.
    ``build`` makes the instance that verifies (the caller's composition root: stored
    letters open only through the batch key provider it registers)."""
    src, keys_src = Path(src).resolve(), Path(keys_src).resolve()
    if (src / "data" / MANIFEST).exists():
        src = src / "data"
    if not (src / MANIFEST).is_file() or not (src / DB_NAME).is_file():
        raise ValidationError(f"{src} is not a backup's data folder (no {MANIFEST} or database).")
    if settings.master_key_source == "file" and not (keys_src / "master.key").is_file():
        raise ValidationError(f"{keys_src} holds no master.key: give the backup's keys folder with --keys.")
    problems = _is_fresh(settings)
    if problems:
        raise Conflict("Restore goes into a fresh instance only: " + "; ".join(problems) + ".")
    say = progress or (lambda _m: None)
    db_path = _sqlite_path(settings)
    created: list[Path] = []
    for folder in (settings.home, settings.blob_dir, settings.index_dir, settings.keystore_dir):
        if not folder.exists():
            folder.mkdir(parents=True, mode=0o700)
            created.append(folder)
    copied: list[Path] = []
    try:
        say("keys")
        for p in keys_src.iterdir():
            if p.is_dir():   # the batch keys of stored letters (batches/)
                _copy_tree(p, settings.keystore_dir / p.name, skip=lambda f: f.name.startswith("."))
            elif p.is_file() and p.name != "README.txt":
                target = settings.key_file if p.name == "master.key" else settings.keystore_dir / p.name
                shutil.copy2(p, target)
                os.chmod(target, 0o600)
                copied.append(target)
        say("database")
        shutil.copy2(src / DB_NAME, db_path)
        os.chmod(db_path, 0o600)
        copied.append(db_path)
        say("blobs")
        _copy_tree(src / "blobs", settings.blob_dir)
        say("index")
        _copy_tree(src / "index", settings.index_dir)
        say("verify")
        report = verify_instance(settings, build=build)
        if report.problems:
            raise CryptoError(f"The restored instance does not verify: {len(report.problems)} problem(s), "
                              f"first: {report.problems[0]}")
        return report
    except BaseException:
        for path in copied:
            path.unlink(missing_ok=True)
        for name in ("-wal", "-shm"):
            Path(str(db_path) + name).unlink(missing_ok=True)
        for folder in (settings.blob_dir, settings.index_dir):
            if folder.is_dir():
                for child in folder.iterdir():
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        for folder in reversed(created):
            shutil.rmtree(folder, ignore_errors=True)
        raise


def verify_instance(settings: Settings, *, build: Callable[[Settings], Instance]) -> RestoreReport:
    """Open every record's document, earlier versions, event notes and attachments; check the
    audit chain. ``build`` makes the instance (``app.composition.build_instance``)."""
    from records.db import upgrade

    report = RestoreReport()
    inst = build(settings)
    try:
        upgrade(inst.db)
        with inst.unit_of_work() as s:
            ids = s.execute(select(Record.id).order_by(Record.id)).scalars().all()
        for start in range(0, len(ids), 200):
            with inst.unit_of_work() as s:
                for record in s.execute(select(Record).where(Record.id.in_(ids[start:start + 200]))).scalars():
                    try:
                        sealing.open_json(s, record, "document", record.document_sealed, record.doc_version)
                        for v in s.execute(select(RecordVersion).where(RecordVersion.record_id == record.id)).scalars():
                            sealing.open_json(s, record, "document", v.document_sealed, v.version)
                            report.versions += 1
                        for e in s.execute(select(RecordEvent).where(RecordEvent.record_id == record.id,
                                                                     RecordEvent.note_sealed.is_not(None))).scalars():
                            sealing.open_json(s, record, "event-note", e.note_sealed, e.id)
                        for a in s.execute(select(Attachment).where(Attachment.record_id == record.id)).scalars():
                            sealing.open_bytes(s, record, "attachment", inst.blobs.get(a.uid), a.uid)
                            report.attachments += 1
                        report.records += 1
                    except Exception as exc:  # noqa: BLE001 - collected and reported, never the plaintext
                        report.problems.append(f"{record.serial}: {type(exc).__name__}")
        with inst.unit_of_work() as s:
            result = audit.verify(s)
            report.audit_entries = result.checked
            if not result.ok:
                report.problems.append(f"audit trail: {result.problem}")
            total = s.execute(select(func.count()).select_from(Record)).scalar_one()
            if total != report.records + len([p for p in report.problems if p.startswith("XF-")]):
                report.problems.append("record count changed during verification")
        if not report.problems:
            with inst.unit_of_work() as s:
                audit.record(s, "backup.restore", actor_name="system",
                             detail={"records": report.records, "attachments": report.attachments})
    finally:
        inst.close()
    return report
