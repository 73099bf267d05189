"""Which search backend an instance uses, chosen by configuration, built in one place.

``XINFANG_SEARCH_BACKEND=whoosh|postgresql`` (or ``Settings.extra["search_backend"]``, which
wins), default ``whoosh``:

* ``whoosh`` — the embedded default: a Whoosh index on disk in the instance folder, one
  writer per machine (a lock file). Right for one machine.
* ``postgresql`` — the blind tokens in a table of the instance's own PostgreSQL database
  (``search.postgres``), so several application machines share one index and the one
  writer is decided by a PostgreSQL advisory lock. Refused on SQLite.

``search.indexer.service`` (the running services), ``indexer.reindex`` and
``retention.index`` get their backend here; nothing else names a backend class.
"""
from __future__ import annotations

import os

from records.errors import ConfigurationError

from .interface import SearchBackend

WHOOSH = "whoosh"
POSTGRESQL = "postgresql"
BACKENDS = (WHOOSH, POSTGRESQL)
ENV_VAR = "XINFANG_SEARCH_BACKEND"
#: Megabytes of segment arrays a process keeps between Whoosh searches (``search.whoosh.execution``).
CACHE_ENV_VAR = "XINFANG_SEARCH_CACHE_MB"
DEFAULT_CACHE_MB = 96


def cache_bytes(environ=None) -> int:
    """The byte budget of the Whoosh backend's segment cache; ConfigurationError when the
    setting is not a whole number of megabytes from 1 to 65536."""
    raw = (os.environ if environ is None else environ).get(CACHE_ENV_VAR) or str(DEFAULT_CACHE_MB)
    try:
        mb = int(raw)
    except ValueError:
        mb = 0
    if not 1 <= mb <= 65536:
        raise ConfigurationError(f"{CACHE_ENV_VAR} must be a whole number of megabytes (1 to 65536), not {raw!r}.")
    return mb * 1024 * 1024


def configured(settings, environ=None) -> str:
    """The backend name the settings (then the environment) ask for; ConfigurationError
    when it is not one of ``BACKENDS``."""
    env = os.environ if environ is None else environ
    raw = (getattr(settings, "extra", None) or {}).get("search_backend") or env.get(ENV_VAR) or WHOOSH
    name = str(raw).strip().lower()
    if name in ("postgres", "pg"):
        name = POSTGRESQL
    if name not in BACKENDS:
        raise ConfigurationError(f"Unknown search backend {str(raw)[:40]!r} ({ENV_VAR}); "
                                 f"use one of: {', '.join(BACKENDS)}.")
    return name


def kind(inst) -> str:
    """The backend name of ``inst``, checked against its database: ``postgresql`` needs the
    instance's database to be PostgreSQL (the table lives there)."""
    name = configured(inst.settings)
    if name == POSTGRESQL and inst.db.engine.dialect.name != "postgresql":
        raise ConfigurationError(
            f"{ENV_VAR}=postgresql keeps the search index in the instance's PostgreSQL database, but this "
            f"instance's database is {inst.db.engine.dialect.name}. Set XINFANG_DATABASE_URL to a PostgreSQL "
            f"database, or use {ENV_VAR}=whoosh (the embedded index).")
    return name


def check(inst) -> None:
    """ConfigurationError when the configured backend cannot run in this process: PostgreSQL
    asked of another database, or, for Whoosh, an installed Whoosh-Reloaded other than the
    release ``search.whoosh.internals`` mirrors. Servers call it before serving; building a
    Whoosh backend checks the release again."""
    if kind(inst) == WHOOSH:
        from .whoosh import internals

        internals.check_version()


def make_backend(inst, key_id: str, *, procs: int | None = None) -> SearchBackend:
    """A backend of ``inst`` for the blind-token key ``key_id``. ``procs`` (indexing
    processes of a rebuild) only means something to Whoosh."""
    if kind(inst) == POSTGRESQL:
        from .postgres import PostgresBackend

        return PostgresBackend(inst.db.engine, key_id)
    from .whoosh.backend import WhooshBackend

    if procs is None:
        procs = int(inst.settings.extra.get("search_procs", 1) or 1)
    return WhooshBackend(inst.settings.index_dir, key_id, procs=procs, cache_bytes=cache_bytes())


def existing_backend(inst, key_id: str) -> SearchBackend | None:
    """The backend of ``inst`` when an index exists (Whoosh: the index folder holds
    something; PostgreSQL: always, the table is created by the migrations), else None."""
    if kind(inst) == WHOOSH:
        index_dir = inst.settings.index_dir
        if not index_dir.is_dir() or not any(index_dir.iterdir()):
            return None
    return make_backend(inst, key_id)
