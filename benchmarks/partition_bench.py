"""PostgreSQL search tables: what a destruction's purge rewrites, as the database grows.

    .venv/bin/python benchmarks/partition_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres
    .venv/bin/python benchmarks/partition_bench.py --database-url ... --sizes 10x10000,10x100000 --batch 10000

For each size a throw-away database is created on that server (then dropped) with the search
schema of ``search.postgres`` (partitioned by part: ``schema.part_of``), filled in the server
with synthetic rows of the same shape as real ones: a ``tsvector`` of ``--tokens``
blind-token-like terms with positions (a vocabulary of 20,000 terms), character tokens and
principals. A size ``YEARSxLETTERS`` is that many years of that many letters each; of each
year's letters 1 % await a decision (``i<year>``), 25 % are stored, in 12 regions' batches
(``s<year>_<region>``), and the rest are decided (``y<year>``). One more batch of
``--batch`` stored letters is added to the middle year; the terms table is counted from the
rows (``schema.FILL_TERMS``), and the indexes built.

Then the batch is destroyed on the search side as a destruction run does it, through the
backend: ``PostgresBackend.delete`` of its letters and the purge of the partitions they were
in, with the year's intake marked as their letters' stores leave it. That is timed; then,
for comparison on the same rows, ``VACUUM FULL`` of every partition of the year (what a
destruction rewrote when the tables were partitioned by year only). Synthetic rows, not
registered letters: the point is the cost of the rewrite as the tables grow."""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from search.postgres import PostgresBackend  # noqa: E402
from search.postgres.schema import (  # noqa: E402
    FILL_TERMS, FORMAT, META, MOVED, TABLE, TERMS, create_schema, ensure_partitions, index_ddl, part_of, partitions,
    table_ddl,
)

FIRST_YEAR = 2020
REGIONS = [f"1101{i:02d}" for i in range(1, 13)]
BATCH_REGION = "110199"
KEY_ID = "partition-bench"


def _fill(conn, part: str, year: int, status: str, region: str, first: int, count: int, tokens: int) -> None:
    """``count`` rows of ``part``, generated in the server (md5-derived terms, as blind tokens look)."""
    conn.execute(text(
        f"INSERT INTO {TABLE} (uid, part, record_id, serial, year, status, channel, region, category, office, "
        "received, doc_version, allowed, denied, \"text\", chars, length) "
        "SELECT 'u' || g, :part, g, 'XF-' || g, :y, :status, 'letter', :region, 'labour_wages', 'LDJC', g, 1, "
        "ARRAY['o:LDJC', 'r:' || :region], ARRAY[]::text[], "
        "(SELECT string_agg(format('''%s'':%s', substr(md5(((g * 31 + i * 17) % 20000)::text), 1, 11), i), ' ')"
        "  FROM generate_series(1, :n) i)::tsvector, "
        "ARRAY(SELECT substr(md5(((g + i) % 3000)::text), 1, 11) FROM generate_series(1, 60) i), :n "
        "FROM generate_series(CAST(:first AS bigint), CAST(:first AS bigint) + :count - 1) g"),
        {"part": part, "y": year, "status": status, "region": region, "n": tokens, "first": first, "count": count})


def _layout(years: int, per_year: int, batch: int) -> list[tuple[str, int, str, str, int]]:
    """(part, year, status, region, letters) of every part the database holds."""
    out = []
    for k in range(years):
        year = FIRST_YEAR + k
        intake, stored = per_year // 100, per_year // 4
        out.append((part_of("registered", year, REGIONS[0]), year, "registered", REGIONS[0], intake))
        for i, region in enumerate(REGIONS):
            n = stored // len(REGIONS) + (1 if i < stored % len(REGIONS) else 0)
            out.append((part_of("stored", year, region), year, "stored", region, n))
        out.append((part_of("accepted", year, REGIONS[0]), year, "accepted", REGIONS[0], per_year - intake - stored))
    middle = FIRST_YEAR + years // 2
    out.append((part_of("stored", middle, BATCH_REGION), middle, "stored", BATCH_REGION, batch))
    return out


def _size(conn, names: list[str]) -> int:
    return int(conn.execute(text("SELECT COALESCE(sum(pg_total_relation_size(CAST(n AS regclass))), 0) "
                                 "FROM unnest(CAST(:n AS text[])) AS n"), {"n": names}).scalar_one())


def bench(admin_url: str, years: int, per_year: int, batch: int, tokens: int) -> dict:
    name = "xinfang_partbench_" + uuid.uuid4().hex[:8]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(make_url(admin_url).set(database=name), isolation_level="AUTOCOMMIT")
    try:
        layout = _layout(years, per_year, batch)
        with engine.connect() as conn:
            for ddl in table_ddl(TABLE, indexes=False):
                conn.execute(text(ddl))
            create_schema(conn)   # the meta and terms tables
            ensure_partitions(conn, TABLE, [p for p, *_ in layout])
            ensure_partitions(conn, TERMS, [p for p, *_ in layout])
            t0 = time.monotonic()
            first = 1
            for i, (part, year, status, region, count) in enumerate(layout):
                _fill(conn, part, year, status, region, first, count, tokens)
                first += count
                print(f"\r  filled {i + 1}/{len(layout)} parts", end="", flush=True)
            print()
            conn.execute(text("SET maintenance_work_mem = '256MB'"))
            for ddl in index_ddl(TABLE):
                conn.execute(text(ddl))
            conn.execute(text(FILL_TERMS.format(terms=TERMS, table=TABLE)))
            conn.execute(text(f"INSERT INTO {META} (name, value) VALUES ('key_id', :k), ('format', :f), "
                              "('documents', CAST(:d AS text)), ('length_sum', CAST(:l AS text))"),
                         {"k": KEY_ID, "f": FORMAT, "d": first - 1, "l": (first - 1) * tokens})
            conn.execute(text(f"VACUUM ANALYZE {TABLE}"))
            conn.execute(text(f"VACUUM ANALYZE {TERMS}"))
            fill_s = time.monotonic() - t0
            have = {t: partitions(conn, t) for t in (TABLE, TERMS)}
            middle = FIRST_YEAR + years // 2
            the_batch = part_of("stored", middle, BATCH_REGION)
            intake = part_of("registered", middle, BATCH_REGION)
            of_year = [n for t in (TABLE, TERMS) for p, n in have[t].items() if p[1:].split("_")[0] == str(middle)]
            out = {"letters": first - 1, "per_year": per_year, "batch": batch, "parts": len(layout),
                   "mb": _size(conn, [n for t in (TABLE, TERMS) for n in have[t].values()]) / 1e6,
                   "year_mb": _size(conn, of_year) / 1e6,
                   "batch_mb": _size(conn, [have[t][p] for t in (TABLE, TERMS) for p in (the_batch, intake)]) / 1e6,
                   "fill_s": fill_s}
            uids = conn.execute(text(f"SELECT uid FROM {TABLE} WHERE part = :p"), {"p": the_batch}).scalars().all()
            conn.execute(text(f"INSERT INTO {META} (name, value) VALUES (:n, '1')"), {"n": f"{MOVED}{intake}"})
        backend = PostgresBackend(engine, KEY_ID)
        t0 = time.monotonic()
        out["destroyed"] = backend.delete(uids)   # deleted, and the partitions they were in purged
        out["destroy_s"] = time.monotonic() - t0
        with engine.connect() as conn:
            t0 = time.monotonic()
            for n in of_year:
                conn.execute(text(f"VACUUM FULL {n}"))
            out["year_s"] = time.monotonic() - t0
        return out
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", required=True, help="a PostgreSQL server URL whose user may create databases")
    ap.add_argument("--sizes", default="10x1000,10x10000",
                    help="comma-separated YEARSxLETTERS (letters per year), one run each")
    ap.add_argument("--batch", type=int, default=1000, help="stored letters of the batch destroyed")
    ap.add_argument("--tokens", type=int, default=150, help="terms per letter's tsvector")
    args = ap.parse_args()
    rows = []
    for size in args.sizes.split(","):
        years, per = (int(x) for x in size.lower().split("x"))
        print(f"{years} years of {per} letters, a batch of {args.batch}")
        rows.append(bench(args.database_url, years, per, args.batch, args.tokens))
        r = rows[-1]
        print(f"  {r}")
    print(f"\n{'letters':>9} {'parts':>6} {'tables MB':>10} {'year MB':>8} {'batch+intake MB':>16} {'fill s':>7} "
          f"{'destroy batch s':>16} {'rewrite year s':>15}")
    for r in rows:
        print(f"{r['letters']:>9} {r['parts']:>6} {r['mb']:>10.1f} {r['year_mb']:>8.1f} {r['batch_mb']:>16.1f} "
              f"{r['fill_s']:>7.1f} {r['destroy_s']:>16.2f} {r['year_s']:>15.2f}")
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"\ndestroying the batch among {b['letters']:,} letters took {b['destroy_s'] / a['destroy_s']:.2f}x "
              f"the time among {a['letters']:,} (rewriting the year: {b['year_s'] / a['year_s']:.2f}x)")


if __name__ == "__main__":
    main()
