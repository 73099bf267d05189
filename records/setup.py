"""Creating an instance: folders, master key file, database schema, reference data.

Never overwrites an existing key or database. All or nothing: everything that can be checked
beforehand (the preset, the jurisdiction, the CJK font the notices are written with) is
checked before anything is created; while the work runs, a marker file in the instance folder
(``init.pending``, with what was asked for) says it is unfinished, so a run that failed half-way
is completed by the next ``xinfang init``, which says so. The caller removes the marker with
:func:`finish_init` once its own steps (the demo) are done too."""
from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import inspect

from records import crypto
from records.instance import Instance
from records.settings import Settings
from records.db import Database, upgrade
from records.errors import ConfigurationError, ValidationError


#: The marker of an unfinished initialisation (JSON: what was asked for).
PENDING = "init.pending"


@dataclass
class InitReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    #: What the unfinished earlier run had asked for (None: there was none).
    resumed: dict | None = None

    @property
    def nothing_to_do(self) -> bool:
        return not self.created and self.resumed is None


def _has_schema(db: Database) -> bool:
    return "records" in inspect(db.engine).get_table_names()


def pending_init(settings: Settings) -> dict | None:
    """What an unfinished earlier initialisation asked for, or None."""
    marker = settings.home / PENDING
    if not marker.is_file():
        return None
    try:
        asked = json.loads(marker.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return asked if isinstance(asked, dict) else {}


def finish_init(settings: Settings) -> None:
    """The initialisation (and the caller's own steps) completed: remove the marker."""
    (settings.home / PENDING).unlink(missing_ok=True)


def preflight(settings: Settings, *, preset: str | None = None, jurisdiction: str | None = None,
              require_font: bool = False) -> None:
    """Everything that can fail before anything is created; a ConfigurationError or
    ValidationError with one clear line."""
    from records.reference.regions import national_list
    from records.reference.seed import PRESETS

    if preset is not None and preset not in PRESETS:
        raise ValidationError(f"Unknown preset {preset!r}; use one of: {', '.join(PRESETS)}.",
                              fields={"preset": "Unknown preset."})
    if jurisdiction is not None:
        row = next((r for r in national_list() if r.code == jurisdiction), None)
        if row is None:
            raise ValidationError("The jurisdiction must be a 6-digit code of the national list of regions "
                                  "(see 'xinfang regions find NAME').", fields={"jurisdiction": "Unknown code."})
        if row.retired_in:
            raise ValidationError(f"Region {jurisdiction} was retired; its successor is {row.successor}.",
                                  fields={"jurisdiction": "Retired code."})
    if require_font:
        from records.cases.notices import find_font

        find_font(settings)


def _session_secret(settings: Settings, report: InitReport) -> None:
    secret = settings.keystore_dir / "session.secret"
    if not secret.exists():
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        report.created.append(f"session secret {secret}")


def init_instance(settings: Settings, *, build: Callable[[Settings], Instance] | None = None,
                  preset: str | None = None, jurisdiction: str | None = None, require_font: bool = False,
                  demo: bool = False) -> InitReport:
    """Create what is missing. Refuses (ConfigurationError) when the database exists without
    its key, or the key without its database: creating the other would lose letters or mix
    instances. ``build`` makes the instance that seeds the reference data (the caller's
    composition root; seeding needs only the database, so a bare ``Instance`` is the default).

    ``preset`` (labour, science-tech, general) chooses a new instance's offices, categories
    and letterhead; ``jurisdiction`` sets the bureau's area; ``require_font`` checks the CJK
    font first. An unfinished earlier run is completed with what it asked for (``report.resumed``);
    ``demo`` is only written into the marker for the caller (see :func:`finish_init`)."""
    earlier = pending_init(settings)
    if earlier is not None:
        preset = preset or earlier.get("preset")
        jurisdiction = jurisdiction or earlier.get("jurisdiction")
        demo = demo or bool(earlier.get("demo"))
    preflight(settings, preset=preset, jurisdiction=jurisdiction, require_font=require_font)
    report = InitReport(resumed=earlier)
    home = settings.home
    if not home.is_dir():
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        report.created.append(f"folder {home}")
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
        # from here on, an interrupted run is completed by the next one
        (home / PENDING).write_text(json.dumps({"preset": preset, "jurisdiction": jurisdiction, "demo": demo}),
                                    "utf-8")
        if has_key and file_key and not has_db:
            # Only a key: safe to keep using it for a new database, but say so loudly.
            report.existing.append(f"master key {settings.key_file} (kept)")
        if file_key and not has_key:
            crypto.write_key_file(settings.key_file, crypto.Keyring.generate())
            report.created.append(f"master key {settings.key_file} (mode 0600)")
        elif file_key:
            report.existing.append(f"master key {settings.key_file}")
        _session_secret(settings, report)
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
                added = ensure_reference_data(session, preset=preset, jurisdiction=jurisdiction)
            if added:
                report.created.append(f"{added} rows of reference data (regions, offices, categories, calendar)")
            if preset and has_db and earlier is None:
                report.existing.append(f"categories and offices (--preset {preset} seeds a new instance only; "
                                       f"'xinfang categories preset {preset}' adds its categories)")
        finally:
            inst.close()
    finally:
        db.dispose()
    if not demo:
        finish_init(settings)
    return report
