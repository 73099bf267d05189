"""Which search backend an instance uses, chosen by configuration, built in one place.

``Settings.search_backend`` (``XINFANG_SEARCH_BACKEND=whoosh|postgresql``), default ``whoosh``:

* ``whoosh`` — the embedded default: a Whoosh index on disk in the instance folder, one
  writer per machine (a lock file). Right for one machine.
* ``postgresql`` — the blind tokens in a table of the instance's own PostgreSQL database
  (``search.postgres``), so several application machines share one index and the one
  writer is decided by a PostgreSQL advisory lock. Refused on SQLite.

``search.indexer.service`` (the running services), ``indexer.reindex`` and
``retention.index`` get their backend here; nothing else names a backend class.
"""
from __future__ import annotations

from records.errors import ConfigurationError
from records.settings import SEARCH_BACKENDS

from .interface import SearchBackend

WHOOSH, POSTGRESQL = SEARCH_BACKENDS
BACKENDS = SEARCH_BACKENDS
ENV_VAR = "XINFANG_SEARCH_BACKEND"
#: Megabytes a process keeps between searches: Whoosh's segment arrays (``search.whoosh.execution``),
#: or the PostgreSQL backend's hits of queries asked again (``search.postgres.hitcache``).
CACHE_ENV_VAR = "XINFANG_SEARCH_CACHE_MB"


def configured(settings) -> str:
    """The backend name the settings ask for (checked by ``Settings``: one of ``BACKENDS``)."""
    return settings.search_backend


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
    """A backend of ``inst`` for the blind-token key ``key_id``. ``procs``: the processes
    that analyse and blind the letters of a rebuild (default ``XINFANG_SEARCH_PROCS``)."""
    if procs is None:
        procs = inst.settings.search_procs
    if kind(inst) == POSTGRESQL:
        from .postgres import PostgresBackend

        return PostgresBackend(inst.db.engine, key_id, procs=procs, cache_bytes=inst.settings.search_cache_bytes)
    from .whoosh.backend import WhooshBackend

    return WhooshBackend(inst.settings.index_dir, key_id, procs=procs, cache_bytes=inst.settings.search_cache_bytes)


def existing_backend(inst, key_id: str) -> SearchBackend | None:
    """The backend of ``inst`` when an index exists (Whoosh: the index folder holds
    something; PostgreSQL: always, the table is created by the migrations), else None."""
    if kind(inst) == WHOOSH:
        index_dir = inst.settings.index_dir
        if not index_dir.is_dir() or not any(index_dir.iterdir()):
            return None
    return make_backend(inst, key_id)
