"""What-if benchmark (issue 19): a destruction run as ``retention_bench`` times it, with the
record tables laid out as ``docs/scale.md`` proposes. That layout is NOT built: this measures
what it would buy before anyone migrates to it. PostgreSQL only, on a throw-away database
(``retention_bench`` creates and drops it).

    .venv/bin/python benchmarks/retention_what_if.py --layout partitioned --others 10000 --copies 99 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

Layouts:

``today``
    the run as built (``retention_bench --breakdown``).
``partitioned``
    just before the timed run, ``records`` and every table keyed by its id become tables
    partitioned by list into the batch's letters (``<table>_b``) and the rest (``<table>_r``):
    foreign keys to ``records`` dropped, primary and unique keys given the partition key (a
    partial unique index, the jobs' one of active work, left out). The
    run rewrites (``VACUUM FULL``) and file-scans the batch's partitions instead of the whole
    tables. The residue check still reads every value of the database.
``narrow``
    partitioned, and the residue check's reading of every value leaves out the rest's
    partitions: it reads the batch's partitions and every other table (a narrower proof,
    see ``docs/scale.md``).

Not modelled: a letter's rows moving into its batch's partition when it is stored (the dead
copies they leave in its year's partition of letters awaiting a decision, which a run would
rewrite too: small where letters are decided promptly), uniqueness of ``uid``, ``serial`` and
``(year, seq)`` across partitions (a table of their own would keep it, at registration's
cost, not a run's), and the composite foreign keys a real migration would keep."""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from benchmarks import retention_bench  # noqa: E402
from retention import certificate, compaction, residue  # noqa: E402

LAYOUTS = ("today", "partitioned", "narrow")
BATCH, REST = "b", "r"


def record_tables() -> list[tuple[str, str]]:
    """(table, column holding the letter's id): ``records`` and every table keyed by its id."""
    return [("records", "id"), *((t.name, c.name) for t, c in compaction._dependent_tables())]


def partition_record_tables(engine, batch_ids: list[int]) -> None:
    """Turn each record table into one partitioned by list (``part``): the rows of
    ``batch_ids`` in ``<table>_b``, the rest in ``<table>_r``; same columns, defaults and
    indexes, the partition key added to primary and unique keys (a partial unique index is
    left out), foreign keys to ``records`` dropped. One transaction, then ``ANALYZE``."""
    with engine.begin() as conn:
        for name, table in conn.execute(text(
                "SELECT conname, conrelid::regclass::text FROM pg_constraint "
                "WHERE contype = 'f' AND confrelid = 'records'::regclass")).all():
            conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        for table, column in record_tables():
            _partition(conn, table, column, batch_ids)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


def _partition(conn, table: str, column: str, batch_ids: list[int]) -> None:
    sequence = conn.execute(text(
        "SELECT pg_get_serial_sequence(:t, 'id') FROM pg_attribute "
        "WHERE attrelid = CAST(:t AS regclass) AND attname = 'id'"), {"t": table}).scalar()
    if sequence:   # kept when the old table is dropped
        conn.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY NONE"))
    keys = conn.execute(text(
        "SELECT conname, contype, conindid, ARRAY(SELECT a.attname FROM unnest(conkey) AS k "
        "JOIN pg_attribute a ON a.attrelid = conrelid AND a.attnum = k) FROM pg_constraint "
        "WHERE conrelid = CAST(:t AS regclass) AND contype IN ('p', 'u')"), {"t": table}).all()
    by_key = {index for _name, _kind, index, _cols in keys}
    indexes = [(ddl, unique) for oid, ddl, unique in conn.execute(text(
        "SELECT indexrelid, pg_get_indexdef(indexrelid), indisunique FROM pg_index "
        "WHERE indrelid = CAST(:t AS regclass)"), {"t": table}).all() if oid not in by_key]
    conn.execute(text(f"ALTER TABLE {table} RENAME TO {table}_old"))
    conn.execute(text(f"CREATE TABLE {table} (LIKE {table}_old INCLUDING DEFAULTS, "
                      f"part text NOT NULL DEFAULT '{REST}') PARTITION BY LIST (part)"))
    for part in (BATCH, REST):
        conn.execute(text(f"CREATE TABLE {table}_{part} PARTITION OF {table} FOR VALUES IN ('{part}')"))
    conn.execute(text(f"INSERT INTO {table} SELECT o.*, CASE WHEN o.{column} = ANY (:ids) "
                      f"THEN '{BATCH}' ELSE '{REST}' END FROM {table}_old o"), {"ids": batch_ids})
    conn.execute(text(f"DROP TABLE {table}_old CASCADE"))
    for name, kind, _index, cols in keys:
        what = "PRIMARY KEY" if kind == "p" else "UNIQUE"
        conn.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {what} ({", ".join([*cols, "part"])})'))
    for ddl, unique in indexes:
        if unique:   # a unique index of a partitioned table must hold the partition key
            if " WHERE " in ddl:
                continue
            ddl = ddl[:-1] + ", part)"
        conn.execute(text(ddl))


@contextlib.contextmanager
def layout(kind: str, left_out: list[str] | None = None):
    """While the block runs, the run and its residue check see the tables of ``kind``: the
    batch's partitions stand for the record tables in what is rewritten and file-scanned;
    with ``narrow``, the rest's partitions are not read by the check (their names are added
    to ``left_out``)."""
    if kind == "today":
        yield
        return
    own = {t for t, _ in record_tables()}
    rest = {f"{t}_{REST}" for t in own}
    affected_before, values_before = compaction.affected_tables, residue._values

    def affected(year=None, region=None):
        return [f"{n}_{BATCH}" if n in own else n for n in affected_before(year, region)]

    def values(conn, driver, sql):
        table = sql.rsplit(" ", 1)[-1].rsplit(".", 1)[-1].strip('"')   # ``residue._scan_columns``' FROM
        if table in rest:
            if left_out is not None:
                left_out.append(table)
            return iter(())
        return values_before(conn, driver, sql)

    changes = [(compaction, "affected_tables", affected), (certificate, "affected_tables", affected)]
    if kind == "narrow":
        changes.append((residue, "_values", values))
    with retention_bench.replaced(changes):
        yield


def run(kind: str, batch_size: int, others: int, copies: int, admin_url: str) -> dict:
    """``retention_bench.bench`` with the record tables laid out as ``kind`` for the run."""
    left_out: list[str] = []

    def lay_out(inst):
        if kind == "today":
            return
        t0 = time.monotonic()
        with inst.db.engine.connect() as conn:
            ids = conn.execute(text("SELECT id FROM records WHERE region_code = :r AND year = :y"),
                               {"r": "110101", "y": 2023}).scalars().all()
        partition_record_tables(inst.db.engine, ids)
        print(f"  record tables partitioned ({time.monotonic() - t0:.0f} s, not timed)")

    with layout(kind, left_out):
        r = retention_bench.bench(batch_size, others, admin_url, "postgresql", copies=copies, breakdown=True,
                                  before_run=lay_out)
    r["layout"], r["left_out"] = kind, sorted(set(left_out))
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layout", choices=LAYOUTS, action="append",
                    help="the record tables' layout for the run (repeatable; default: all three, in turn)")
    ap.add_argument("--batch", type=int, default=10_000, help="letters of the destroyed batch (default 10,000)")
    ap.add_argument("--others", type=int, default=10_000, help="letters registered outside the batch (default 10,000)")
    ap.add_argument("--copies", type=int, default=9,
                    help="copies of each other letter made in SQL (retention_bench --copies; default 9: 100,000 letters)")
    ap.add_argument("--database-url", required=True, help="a PostgreSQL server URL whose user may create databases")
    args = ap.parse_args()
    rows = []
    for kind in args.layout or LAYOUTS:
        print(f"layout {kind}: batch of {args.batch} among {args.others * (1 + args.copies)} others")
        rows.append(run(kind, args.batch, args.others, args.copies, args.database_url))
    print(f"\n{'layout':>12} {'others':>8} {'run s':>7} {'compact':>8} {'residue check':>14} clean")
    for r in rows:
        print(f"{r['layout']:>12} {r['others']:>8} {r['run_s']:>7.2f} {r['phases'].get('compact', 0):>8.2f} "
              f"{r['phases'].get('verify', 0):>14.2f} {r['clean']}")
    for r in rows:
        print(retention_bench.breakdown_lines(f"{r['layout']}: within the run", r["breakdown"]))
        if r["left_out"]:
            print("  not read by the check: " + ", ".join(r["left_out"]))


if __name__ == "__main__":
    main()
