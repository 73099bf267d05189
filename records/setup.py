"""Creating an instance: folders, master key file, database schema, reference data.

Never overwrites an existing key or database."""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import inspect

from records import crypto
from records.instance import Instance
from records.settings import Settings
from records.db import Database, upgrade
from records.errors import ConfigurationError


@dataclass
class InitReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return not self.created


def _has_schema(db: Database) -> bool:
    return "records" in inspect(db.engine).get_table_names()


def init_instance(settings: Settings, *, build: Callable[[Settings], Instance] | None = None) -> InitReport:
    """Create what is missing. Refuses (ConfigurationError) when the database exists without
    its key, or the key without its database: creating the other would lose letters or mix
    instances. ``build`` makes the instance that seeds the reference data (the caller's
    composition root; seeding needs only the database, so a bare ``Instance`` is the default)."""
    report = InitReport()
    home = settings.home
    for folder in (home, settings.blob_dir, settings.index_dir, settings.keystore_dir):
        if folder.is_dir():
            continue
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        report.created.append(f"folder {folder}")
    db = Database(settings.database_url)
    try:
        has_db = _has_schema(db)
        file_key = settings.master_key_source == "file"
        has_key = settings.key_file.exists() if file_key else True
        if has_db and not has_key:
            raise ConfigurationError(
                f"The database at {settings.database_url.split('@')[-1]} has records but there is no master key "
                f"at {settings.key_file}. Restore the key file; a new key could not read the letters.")
        if has_key and file_key and not has_db:
            # Only a key: safe to keep using it for a new database, but say so loudly.
            report.existing.append(f"master key {settings.key_file} (kept)")
        if file_key and not has_key:
            crypto.write_key_file(settings.key_file, crypto.Keyring.generate())
            report.created.append(f"master key {settings.key_file} (mode 0600)")
        elif file_key:
            report.existing.append(f"master key {settings.key_file}")
        secret = settings.keystore_dir / "session.secret"
        if not secret.exists():
            fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
            report.created.append(f"session secret {secret}")
        if has_db:
            report.existing.append("database")
        from records.db import current_revisions
        from alembic.script import ScriptDirectory
        from records.db import alembic_config

        heads = set(ScriptDirectory.from_config(alembic_config(settings.database_url)).get_heads())
        if current_revisions(db) != heads:
            upgrade(db)
            report.created.append("database schema" if not has_db else "database schema upgrade")
        if db.is_sqlite and db.engine.url.database:
            # The database and its -wal/-shm companions are the instance's own: owner only.
            os.chmod(db.engine.url.database, 0o600)
        from records.reference.seed import ensure_reference_data

        inst = (build or Instance)(settings)
        try:
            with inst.unit_of_work() as session:
                added = ensure_reference_data(session)
            if added:
                report.created.append(f"{added} offices and regions")
        finally:
            inst.close()
    finally:
        db.dispose()
    return report
