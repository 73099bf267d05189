"""Where a destruction's deleted rows live on disk, and making them unrecoverable there.

``affected_tables`` (what a run deletes from and journals into), ``keyed_tables`` (columns
holding a letter's id), ``compact`` (phase 5 of a run: SQLite ``VACUUM``, PostgreSQL
``VACUUM FULL``). Used by the run (``destroy``) and the residue check (``certificate``).
Never called inside a web request: a run is a job (``retention.jobs``)."""
from __future__ import annotations

from sqlalchemy import text

from records.db import Base, wait_for_older_snapshots


def _dependent_tables():
    """Tables with a foreign key to records.id (their rows belong to one letter)."""
    records = Base.metadata.tables["records"]
    out = []
    for table in Base.metadata.sorted_tables:
        if table.name in ("records",) or table.name.startswith("retention_"):
            continue
        for fk in table.foreign_keys:
            if fk.column.table is records and fk.column.name == "id":
                out.append((table, fk.parent))
    return out


def compact(inst, run_id: int | None = None, *, tables: list[str] | None = None) -> None:
    """Phase 5: make deleted rows unrecoverable from the database files. PostgreSQL: the
    ``tables`` (default ``affected_tables`` of the run's batch: the search tables'
    partitions of the batch and of its year's letters awaiting a decision only; without a
    run, every partition)."""
    engine = inst.db.engine
    if engine.dialect.name == "sqlite":
        # outside any transaction (VACUUM refuses to run in one); the pool's idle connections
        # hold no read snapshot, so the checkpoint can truncate the WAL to zero bytes
        raw = engine.raw_connection()
        try:
            dbapi = raw.driver_connection
            dbapi.isolation_level = None
            for sql in ("PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"):
                dbapi.execute(sql).fetchall()
        finally:
            raw.close()
    else:
        # PostgreSQL: DELETE only marks tuples dead; VACUUM FULL rewrites each table (and its
        # TOAST table and indexes) into new files holding live rows only, and the old files
        # are truncated at commit. What this cannot reach (WAL, archives, replicas, backups,
        # blocks the file system freed) is covered by the destroyed batch key: see the README.
        if tables is None:
            tables = affected_tables(*_run_batch(inst, run_id)) if run_id is not None else affected_tables()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            _wait_for_older_snapshots(conn)
            for name in tables:
                if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is None:
                    continue   # a table of a later migration this database does not have
                conn.execute(text(f"VACUUM FULL {conn.dialect.identifier_preparer.quote(name)}"))


#: PostgreSQL: how long ``compact`` waits for transactions older than the deletions to end.
COMPACT_WAIT = 60.0


def _wait_for_older_snapshots(conn, timeout: float | None = None) -> bool:
    """Wait until no transaction that began before now can still see the deleted rows
    (``records.db.wait_for_older_snapshots``: an app request in progress, a ``pg_dump``
    running, a transaction of any database of the cluster that holds an xid; not a lazy
    VACUUM), up to ``timeout`` seconds (``COMPACT_WAIT``); returns False when some are still
    running then: VACUUM FULL goes ahead, and the residue check reports whatever it kept."""
    return wait_for_older_snapshots(conn, COMPACT_WAIT if timeout is None else timeout, poll=0.2)


def _run_batch(inst, run_id: int) -> tuple[int, str]:
    """The (year, region) of the run's batch."""
    from .models import Batch, DestructionRun

    with inst.unit_of_work() as s:
        batch = s.get(Batch, s.get(DestructionRun, run_id).batch_id)
        return batch.year, batch.region_code


#: PostgreSQL: the search backend's tables of blind tokens and of their letters-per-term
#: counts (``search.postgres``; created by the migrations on PostgreSQL whichever backend is
#: chosen, empty with Whoosh), partitioned alike (``search.postgres.schema.part_of``): a
#: partition per destruction batch of stored letters, one per year of letters awaiting a
#: decision, one per year of the others.
SEARCH_TABLES = ("search_documents", "search_terms")
#: PostgreSQL: the search backend's log of the letters each index write changed (its
#: deletions take the destroyed letters' entries out; small, as its writers trim it).
SEARCH_CHANGES = "search_changes"


def affected_tables(year: int | None = None, region: str | None = None) -> list[str]:
    """Tables a run deletes from or writes the journal to: compacted after the run and, on
    PostgreSQL, whose relation files the residue check scans (the search tables included).
    With the batch's ``year`` and ``region``, the search tables' partitions its letters were
    written to stand for the search tables: the batch's own (its stored letters) and its
    year's letters awaiting a decision (where each was until it was stored). A run rewrites
    and scans those only, at a cost that follows the batch, not the year or the table."""
    from search.postgres.schema import INTAKE, part_of, partition_name

    if year is None or region is None:
        search = list(SEARCH_TABLES)
    else:
        parts = [part_of("stored", year, region), *sorted({part_of(s, year, region) for s in INTAKE})]
        search = [partition_name(t, p) for t in SEARCH_TABLES for p in parts]
    names = ["records", "retention_batch_letters", "retention_run_steps", "outbox",
             *(t.name for t, _ in _dependent_tables()), *search, SEARCH_CHANGES]
    return list(dict.fromkeys(names))


def keyed_tables() -> list[tuple[str, str]]:
    """(table, column) pairs holding a letter's ``records.id``: none may keep a destroyed id."""
    records = Base.metadata.tables["records"]
    own = [("records", c.name) for c in records.columns if c.name == "id" or any(
        fk.column.table is records for fk in c.foreign_keys)]   # a repeat's link to a destroyed letter
    return [*own, *((t.name, c.name) for t, c in _dependent_tables())]
