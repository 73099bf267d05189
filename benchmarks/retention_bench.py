"""Retention benchmark: time to destroy and verify one (region, year) batch of stored letters
among many others, for two batch sizes, to show how the cost grows.

    .venv/bin/python benchmarks/retention_bench.py            # 1,000 and 10,000 among 50,000 others
    .venv/bin/python benchmarks/retention_bench.py --quick    # 200 and 1,000 among 2,000 others
    .venv/bin/python benchmarks/retention_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres
        # on PostgreSQL: a throw-away database is created on that server for each size, then dropped
        # (add --search-backend postgresql for the blind tokens in the database too, and
        # --index to have every letter in the search index before the run)
    .venv/bin/python benchmarks/retention_bench.py --sizes 10000 --others 10000 --copies 99 --database-url ...
        # 10,000 among 1,000,000: 10,000 others registered, then copied in SQL (``_replicate``)
        # add --breakdown for each run's statements of 0.2 s or more and the residue check's parts

Letters are registered through the normal service (real encryption, identity tokens, audit),
stored (re-keyed under the batch key), sealed, proposed and approved; the timed part is the
run: journal with fingerprints, deletion, blob removal, index purge, key destruction,
VACUUM, the residue scan of every instance file, and the certificate. Target (issue 6):
10,000 letters destroyed and verified in under 60 s."""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import String, cast, event, func, insert, literal, null, select, text, update  # noqa: E402

from records.accounts import operations as accounts  # noqa: E402
from records.cases import operations  # noqa: E402
from records.db import create_database, drop_database  # noqa: E402
from records.settings import Settings  # noqa: E402
from app.composition import build_instance  # noqa: E402
from records.models import Record  # noqa: E402
from records.accounts.models import User  # noqa: E402
from records.setup import init_instance  # noqa: E402
from retention import certificate, destroy, residue  # noqa: E402
from retention import operations as ret  # noqa: E402
from retention.certificate import verify  # noqa: E402
from retention.models import Certificate  # noqa: E402
from search import indexer  # noqa: E402

REASONS = ("concluded_after_rereview", "repeat_already_answered", "no_reference_value", "unclear_content")
REGIONS = ("110101", "110102", "110105", "110106", "110107", "110108")
TODAY = dt.date(2030, 6, 1)


def _letter(i: int, region: str, year: int) -> dict:
    return {"channel": "letter", "received_at": f"{year}-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00",
            "region": region, "category": "labour_wages", "subject": f"反映拖欠工資問題 {i}",
            "body": "本人於某建築公司工作，公司拖欠工資三個月，請求協調解決。" * 3 + str(i),
            "people_count": 1,
            "petitioner": {"name": f"王小明{i}", "phone": f"138{i:08d}", "address": "北京市海淀區中關村大街1號"}}


def _register(inst, user_id: int, n: int, region: str, year: int, start: int, label: str) -> None:
    done, t0 = 0, time.monotonic()
    while done < n:
        step = min(500, n - done)
        with inst.unit_of_work() as s:
            user = s.get(User, user_id)
            for i in range(done, done + step):
                operations.register(s, _letter(start + i, region, year), by=user)
        done += step
        print(f"\r  {label}: {done}/{n} ({time.monotonic() - t0:.0f} s)", end="", flush=True)
    print()


def _uid(dialect: str, key):
    """A new letter uid (32 hex digits) in SQL, distinct for each distinct ``key``."""
    if dialect == "postgresql":
        return func.md5(cast(key, String) + literal(":copy"))
    return func.lower(func.hex(func.randomblob(16)))


def _serial(dialect: str, year, seq):
    """The serial registration gives letter ``seq`` of ``year`` (``allocate_serial``), in SQL."""
    if dialect == "postgresql":
        return literal("XF-") + cast(year, String) + literal("-") + func.lpad(cast(seq, String), 6, "0")
    return func.printf("XF-%d-%06d", year, seq)


def _replicate(inst, copies: int) -> int:
    """Add ``copies`` copies of every letter registered so far, in SQL: each copy a new letter
    (new id, uid, serial and sequence number of its year) whose row and whose rows in every
    table keyed by its id (``retention.compaction``: events, versions, key, identity tokens)
    are the original's byte for byte, so the record tables grow as registering that many
    more letters would grow them, in minutes instead of hours (1,000,000 letters take about
    3.5 hours through the service here). A copy's ciphertexts stay bound to the original's
    uid, so a copy cannot be opened; a run never opens a letter outside its batch, and copies
    are neither indexed nor destroyed here. Returns the letters added."""
    from retention.compaction import _dependent_tables
    from records.db import Base
    from records.models import SerialCounter

    engine = inst.db.engine
    dialect = engine.dialect.name
    records = Base.metadata.tables["records"]
    with engine.begin() as conn:
        before = conn.execute(select(func.count()).select_from(records)).scalar_one()
        top = conn.execute(select(func.max(records.c.id))).scalar_one()
        seq_top = conn.execute(select(func.max(records.c.seq))).scalar_one()
        dependents = [(t, c) for t, c in _dependent_tables()
                      if conn.execute(select(func.count()).select_from(t)).scalar_one()]
        for t, _c in dependents:
            unique = [c.name for c in t.columns if c.unique and c.name != "uid"]
            if unique or any(fk.column.table is not records and fk.column.table.name != "users"
                             for fk in t.foreign_keys):
                raise SystemExit(f"--copies: cannot copy the rows of {t.name} (unique {unique} or keyed "
                                 "by another letter table); register the letters instead")
        for k in range(1, copies + 1):
            off, seq = k * top, records.c.seq + k * seq_top
            made = {"id": records.c.id + off, "uid": _uid(dialect, records.c.id + off), "seq": seq,
                    "serial": _serial(dialect, records.c.year, seq), "repeat_of_id": null()}
            cols = [c.name for c in records.columns]
            conn.execute(insert(records).from_select(
                cols, select(*[made.get(n, records.c[n]) for n in cols]).where(records.c.id <= top)))
            for t, c in dependents:
                cols = [x.name for x in t.columns if not (x.primary_key and x.name == "id")]
                made = {c.name: t.c[c.name] + off}
                if "uid" in t.c:
                    made["uid"] = _uid(dialect, t.c.id + k * 1_000_000_000)
                conn.execute(insert(t).from_select(
                    cols, select(*[made.get(n, t.c[n]) for n in cols]).where(t.c[c.name] <= top)))
            print(f"\r  copies: {k}/{copies}", end="", flush=True)
        print()
        added = conn.execute(select(func.count()).select_from(records)).scalar_one() - before
        for year, last in conn.execute(select(records.c.year, func.max(records.c.seq)).group_by(records.c.year)).all():
            conn.execute(update(SerialCounter).where(SerialCounter.year == year).values(last=last))
        if dialect == "postgresql":   # the ids above were given, not drawn from the sequence
            conn.execute(text("SELECT setval(pg_get_serial_sequence('records', 'id'), (SELECT max(id) FROM records))"))
    if dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    return added


def _db_size(inst, home: Path) -> int:
    if inst.db.engine.dialect.name == "sqlite":
        return sum(p.stat().st_size for p in home.glob("xinfang.sqlite3*"))
    with inst.db.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def _phases(began: dict[str, float], start: float, end: float) -> dict[str, float]:
    """Seconds of each phase of a run, from the first progress report of each to the next
    one's ("before" until the first report, the last until the run's end)."""
    marks = sorted(began.items(), key=lambda kv: kv[1])
    out = {"before": (marks[0][1] if marks else end) - start}
    for (phase, at), after in zip(marks, [m for _, m in marks[1:]] + [end]):
        out[phase] = after - at
    return {k: round(v, 2) for k, v in out.items()}


#: The residue check's parts that ``--breakdown`` times: the reading of every value of the
#: database (PostgreSQL), each scan of files (the instance's; the relation files), the rows
#: still keyed by a destroyed letter, and the identity tokens a kept letter still holds.
_PARTS = ((residue, "_scan_columns"), (residue, "scan"), (residue, "_rows_left"), (certificate, "_surviving_tokens"))


@contextlib.contextmanager
def replaced(changes: list[tuple[object, str, object]]):
    """While the block runs, each ``(module, name, value)`` of ``changes`` replaces that
    module attribute; afterwards the originals are put back (benchmarks only)."""
    saved = [(module, name, getattr(module, name)) for module, name, _ in changes]
    for module, name, value in changes:
        setattr(module, name, value)
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def breakdown_lines(title: str, parts: list[tuple[float, str]]) -> str:
    """``bench(..., breakdown=True)``'s ``breakdown`` as printed: a title, then one line a part."""
    return "\n".join([f"\n{title} (statements of 0.2 s or more, residue check's parts):",
                      *(f"{took:9.2f} s  {what}" for took, what in parts)])


@contextlib.contextmanager
def _breakdown(engine, out: list[tuple[float, str]], slower_than: float = 0.2):
    """While the block runs, add to ``out`` each SQL statement that took ``slower_than``
    seconds or more (its first 100 characters) and each call of the residue check's parts
    (``_PARTS``), as (seconds, what). For a benchmark only: it wraps module functions."""
    def before(conn, _cursor, _statement, _parameters, _context, _many):
        conn.info["bench_t0"] = time.perf_counter()

    def after(conn, _cursor, statement, _parameters, _context, _many):
        took = time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
        if took >= slower_than:
            out.append((took, " ".join(statement.split())[:100]))

    def timed(name, f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                out.append((time.perf_counter() - t0, name))
        return wrapper

    changes = [(module, name, timed(f"{module.__name__}.{name}", getattr(module, name))) for module, name in _PARTS]
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        with replaced(changes):
            yield out
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def bench(batch_size: int, others: int, admin_url: str | None = None, search_backend: str = "whoosh",
          index: bool = False, copies: int = 0, breakdown: bool = False, before_run=None) -> dict:
    """One batch of ``batch_size`` among ``others`` (times ``1 + copies``), destroyed and
    verified; ``before_run(inst)``, if given, is called after the batch's approval and before
    the timed run (``retention_what_if`` lays the tables out there)."""
    home = Path(tempfile.mkdtemp(prefix="xinfang-retention-bench-"))
    env = {"XINFANG_SEARCH_BACKEND": search_backend}
    db_name = None
    if admin_url:
        db_name, env["XINFANG_DATABASE_URL"] = create_database(admin_url, "xinfang_bench_")
    try:
        settings = Settings.from_env(env, home=str(home))
        init_instance(settings, build=build_instance)
        inst = build_instance(settings)
        with inst.unit_of_work() as s:
            ids = {r: accounts.create_user(s, r, "bench-password-1", [role], office="XFB" if role == "clerk" else None).id
                   for r, role in (("clerk", "clerk"), ("archivist", "archivist"), ("leader", "leader"))}
        # the others: every region and year, many of them stored too (in other batches)
        per = others // 4
        for k, year in enumerate((2022, 2023, 2024, 2025)):
            _register(inst, ids["clerk"], per, REGIONS[(k + 1) % len(REGIONS)], year, k * per, f"others {year}")
        if copies:   # the others decided first (below), so no copy is updated afterwards
            with inst.unit_of_work() as s:
                s.execute(update(Record).where(Record.status == "registered").values(status="accepted"))
            t0 = time.monotonic()
            _replicate(inst, copies)
            print(f"  {copies} copies of the others ({time.monotonic() - t0:.0f} s)")
        _register(inst, ids["clerk"], batch_size, "110101", 2023, 10_000_000, "batch 110101/2023")
        with inst.unit_of_work() as s:
            s.execute(update(Record).where(Record.region_code == "110101", Record.year == 2023)
                      .values(status="stored", stored_reason=REASONS[0]))
            # the others decided, as an office's letters of past years are: none awaits a
            # decision (and with the search on PostgreSQL none is in a year's intake partition,
            # which a destruction of that year rewrites)
            s.execute(update(Record).where(Record.status == "registered").values(status="accepted"))
        if index:   # every letter in the search index, the batch's as stored (the outbox read now)
            t0 = time.monotonic()
            indexed = indexer.drain(inst).indexed
            print(f"  indexed {indexed} letters ({time.monotonic() - t0:.0f} s)")
        t0 = time.monotonic()
        with inst.unit_of_work() as s:
            batch = ret.batch_of(s, "110101", 2023)
            ret.seal(s, batch, by=s.get(User, ids["archivist"]), today=TODAY)   # re-keys the letters
        seal_s = time.monotonic() - t0
        with inst.unit_of_work() as s:
            batch = ret.batch_of(s, "110101", 2023)
            ret.propose(s, batch, by=s.get(User, ids["archivist"]))
            ret.approve(s, batch, by=s.get(User, ids["leader"]))
            batch_id = batch.id
        rekey = time.monotonic() - t0
        if before_run is not None:
            before_run(inst)
        if admin_url:
            # what the set-up (and ``before_run``) wrote reaches the files before the run, not
            # timed: a run in service finds the checkpointer's work done, and otherwise its
            # CHECKPOINT before the file scan wrote out the set-up's pages (0.8 s after the
            # what-if's conversion among 1,000,000 letters)
            with inst.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("CHECKPOINT"))
        db_size = _db_size(inst, home)
        t0 = time.monotonic()
        began: dict[str, float] = {}   # each phase's first progress report

        def progress(phase: str, _done: int, _total: int) -> None:
            began.setdefault(phase, time.monotonic())

        parts: list[tuple[float, str]] = []
        with _breakdown(inst.db.engine, parts) if breakdown else contextlib.nullcontext():
            reports = destroy.run(inst, batch_id=batch_id, by_id=ids["leader"], today=TODAY, progress=progress)
        run_s = time.monotonic() - t0
        phases = _phases(began, t0, t0 + run_s)
        t0 = time.monotonic()
        with inst.unit_of_work() as s:
            cert = s.execute(select(Certificate).where(Certificate.batch_id == batch_id)).scalar_one()
            import json
            rep = verify(json.loads(cert.body), s, inst)
            left = s.execute(select(Record.id).where(Record.region_code == "110101", Record.year == 2023)).first()
            kept = s.execute(select(Record.id)).all()
        verify_s = time.monotonic() - t0
        assert rep.ok and left is None and len(kept) == per * 4 * (1 + copies), rep.problems
        r = reports[0]
        inst.close()
        return {"batch": batch_size, "others": per * 4 * (1 + copies), "db_mb": db_size / 1e6, "seal_s": seal_s, "rekey_s": rekey,
                "run_s": run_s, "verify_s": verify_s, "clean": r.residue_clean, "certificate": r.certificate,
                "phases": phases, "breakdown": sorted(parts, reverse=True)}
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if db_name:
            drop_database(admin_url, db_name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a minute), for CI")
    ap.add_argument("--sizes", help="comma-separated batch sizes (default 1000,10000; quick 200,1000)")
    ap.add_argument("--others", type=int, help="letters outside the batch (default 50000; quick 2000)")
    ap.add_argument("--database-url", help="a PostgreSQL server URL whose user may create databases "
                    "(default: a SQLite file in a temporary folder)")
    ap.add_argument("--search-backend", default="whoosh", choices=("whoosh", "postgresql"))
    ap.add_argument("--index", action="store_true",
                    help="index every letter before the batch is sealed (default: the search index stays empty, "
                    "so a run's search side and the residue check's reading of it are left out)")
    ap.add_argument("--copies", type=int, default=0,
                    help="after registering the others, add this many copies of each in SQL (a new letter with "
                    "the original's rows byte for byte; see _replicate), e.g. --others 10000 --copies 99 for "
                    "1,000,000 letters; default 0")
    ap.add_argument("--breakdown", action="store_true",
                    help="also time, within each run, every SQL statement of 0.2 s or more and each part of the "
                    "residue check (the reading of every value, the file scans), and print them")
    args = ap.parse_args()
    if args.copies and args.index:
        ap.error("--copies cannot be combined with --index: copies cannot be opened, so they cannot be indexed")
    sizes = [int(x) for x in (args.sizes or ("200,1000" if args.quick else "1000,10000")).split(",")]
    others = args.others or (2000 if args.quick else 50_000)
    rows = []
    for size in sizes:
        print(f"batch of {size} among {others * (1 + args.copies)} others")
        rows.append(bench(size, others, args.database_url, args.search_backend, args.index, args.copies,
                          args.breakdown))
    print()
    print(f"{'batch':>7} {'others':>7} {'db MB':>7} {'seal s':>7} {'seal ms/letter':>15} {'re-key s':>9} "
          f"{'destroy+residue+cert s':>23} {'verify s':>9} {'per letter ms':>14} clean")
    for r in rows:
        print(f"{r['batch']:>7} {r['others']:>7} {r['db_mb']:>7.1f} {r['seal_s']:>7.2f} "
              f"{1000 * r['seal_s'] / r['batch']:>15.2f} {r['rekey_s']:>9.2f} {r['run_s']:>23.2f} "
              f"{r['verify_s']:>9.2f} {1000 * (r['run_s'] + r['verify_s']) / r['batch']:>14.2f} {r['clean']}")
    for r in rows:   # where a run's time went (progress reports of ``retention.destroy``)
        print(f"{r['batch']:>7} {r['others']:>7} phases s: " + ", ".join(f"{k} {v:.2f}" for k, v in r["phases"].items()))
    for r in rows:
        if r["breakdown"]:
            print(breakdown_lines(f"{r['batch']:>7} {r['others']:>7} within the run", r["breakdown"]))
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"\n{b['batch'] / a['batch']:.0f}x the letters cost "
              f"{(b['run_s'] + b['verify_s']) / (a['run_s'] + a['verify_s']):.1f}x the time.")


if __name__ == "__main__":
    main()
