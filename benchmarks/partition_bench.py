"""PostgreSQL search table: what a destruction's purge rewrites, by year partition or whole.

    .venv/bin/python benchmarks/partition_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres
    .venv/bin/python benchmarks/partition_bench.py --database-url ... --sizes 2x10000,10x10000 --batch 2000

For each size a throw-away database is created on that server (then dropped) with the search
schema of ``search.postgres`` (partitioned by year), filled with synthetic rows of the same
shape as real ones: a ``tsvector`` of ``--tokens`` blind-token-like terms with positions (a
vocabulary of 20,000 terms), character tokens and principals, for each size
``YEARSxLETTERS``, that many years of that many letters each. Then ``--batch`` letters of one year are deleted and the purge is
timed two ways on the same rows: ``VACUUM FULL`` of that year's partition (what a destruction
does now) and of the whole table (what it did before the table was partitioned). Synthetic
rows, not registered letters: the point is the cost of the rewrite as the table grows."""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from search.postgres.schema import TABLE, create_schema, ensure_partitions, partition_name  # noqa: E402

FIRST_YEAR = 2020


def _fill(conn, years: int, per_year: int, tokens: int) -> None:
    """Rows generated in the server (no text: md5-derived terms, as blind tokens look)."""
    for k in range(years):
        year = FIRST_YEAR + k
        conn.execute(text(
            f"INSERT INTO {TABLE} (uid, record_id, serial, year, status, channel, region, category, office, "
            "received, doc_version, allowed, denied, \"text\", chars, length) "
            "SELECT 'u' || :y || '-' || g, CAST(:y AS bigint) * 1000000 + g, 'XF-' || :y || '-' || g, :y, 'stored', 'letter', "
            "'110108', 'labour_wages', 'LDJC', g, 1, ARRAY['o:LDJC', 'r:110108'], ARRAY[]::text[], "
            "(SELECT string_agg(format('''%s'':%s', substr(md5(((g * 31 + i * 17) % 20000)::text), 1, 11), i), ' ')"
            "  FROM generate_series(1, :n) i)::tsvector, "
            "ARRAY(SELECT substr(md5(((g + i) % 3000)::text), 1, 11) FROM generate_series(1, 60) i), :n "
            "FROM generate_series(1, :per) g"), {"y": year, "n": tokens, "per": per_year})
        print(f"\r  filled {k + 1}/{years} years", end="", flush=True)
    print()


def _size(conn) -> int:
    return int(conn.execute(text(
        "SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(CAST(:t AS regclass))"),
        {"t": TABLE}).scalar_one())


def _timed_vacuum(conn, name: str) -> float:
    t0 = time.monotonic()
    conn.execute(text(f"VACUUM FULL {name}"))
    return time.monotonic() - t0


def bench(admin_url: str, years: int, per_year: int, batch: int, tokens: int) -> dict:
    name = "xinfang_partbench_" + uuid.uuid4().hex[:8]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(make_url(admin_url).set(database=name), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            create_schema(conn)
            ensure_partitions(conn, TABLE, range(FIRST_YEAR, FIRST_YEAR + years))
            t0 = time.monotonic()
            _fill(conn, years, per_year, tokens)
            fill_s = time.monotonic() - t0
            conn.execute(text(f"VACUUM ANALYZE {TABLE}"))
            size = _size(conn)
            year = FIRST_YEAR + years // 2
            out = {"letters": years * per_year, "per_year": per_year, "mb": size / 1e6, "fill_s": fill_s,
                   "partition_mb": int(conn.execute(text("SELECT pg_total_relation_size(CAST(:p AS regclass))"),
                                                    {"p": partition_name(TABLE, year)}).scalar_one()) / 1e6}
            conn.execute(text(f"DELETE FROM {TABLE} WHERE year = :y AND record_id % :m = 0"),
                         {"y": year, "m": max(1, per_year // batch)})
            out["partition_s"] = _timed_vacuum(conn, partition_name(TABLE, year))
            conn.execute(text(f"DELETE FROM {TABLE} WHERE year = :y AND record_id % :m = 1"),
                         {"y": year, "m": max(1, per_year // batch)})
            out["whole_s"] = _timed_vacuum(conn, TABLE)
        return out
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", required=True, help="a PostgreSQL server URL whose user may create databases")
    ap.add_argument("--sizes", default="2x10000,10x10000",
                    help="comma-separated YEARSxLETTERS (letters per year), one run each")
    ap.add_argument("--batch", type=int, default=2000, help="letters of one year deleted before each purge")
    ap.add_argument("--tokens", type=int, default=150, help="terms per letter's tsvector")
    args = ap.parse_args()
    rows = []
    for size in args.sizes.split(","):
        years, per = (int(x) for x in size.lower().split("x"))
        print(f"{years} years of {per} letters")
        rows.append(bench(args.database_url, years, per, args.batch, args.tokens))
    print(f"\n{'letters':>8} {'table MB':>9} {'year MB':>8} {'fill s':>7} {'VACUUM FULL year s':>19} "
          f"{'VACUUM FULL table s':>20}")
    for r in rows:
        print(f"{r['letters']:>8} {r['mb']:>9.1f} {r['partition_mb']:>8.1f} {r['fill_s']:>7.1f} "
              f"{r['partition_s']:>19.2f} {r['whole_s']:>20.2f}")


if __name__ == "__main__":
    main()
