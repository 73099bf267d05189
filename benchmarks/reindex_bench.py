"""Bulk reindex benchmark: ``xinfang search reindex`` of an instance holding N letters of the
benchmark corpus (``corpus.py``), timed with 1 and/or 2 writer processes.

The letters are registered through ``records.cases.operations.register`` (encrypted, with
identity tokens and audit entries, as a clerk would), once; ``--home`` keeps that instance
so the timed rebuild can be repeated. Prints letters/s, the time for all letters, the mean
letter length, the index size and whether ``check`` passes afterwards.

    .venv/bin/python -m benchmarks.reindex_bench --size 100000 --home /var/tmp/xf-reindex --procs 2
    .venv/bin/python -m benchmarks.reindex_bench --size 20000 --procs 1,2

Target (issue 5): a bulk reindex of 100,000 letters under 5 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

BUILT = ".reindex-bench-built"


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build(home: Path, size: int, seed: int) -> None:
    from records.accounts import operations as accounts
    from records.cases import operations
    from records.settings import Settings
    from app.composition import build_instance
    from records.accounts.models import User
    from records.setup import init_instance

    from .corpus import corpus

    settings = Settings.from_env({}, home=str(home))
    init_instance(settings, build=build_instance)
    inst = build_instance(settings)
    with inst.unit_of_work() as s:
        clerk = accounts.create_user(s, "benchclerk", "bench-password-1", ["clerk"], office="XFB").id
    started, done, batch = time.perf_counter(), 0, []
    for d in corpus(size, seed):
        batch.append({"channel": d["channel"], "received_at": d["received_at"], "region": d["region"],
                      "category": d["category"], "subject": d["subject"][:200], "body": d["body"],
                      "petitioner": {"name": d["petitioner"]["name"], "phone": d["petitioner"]["phone"]}})
        if len(batch) == 250 or done + len(batch) == size:
            with inst.unit_of_work() as s:
                user = s.get(User, clerk)
                for raw in batch:
                    operations.register(s, raw, by=user)
            done += len(batch)
            batch = []
            print(f"\r  registered {done}/{size} letters ({time.perf_counter() - started:.0f} s)", end="", flush=True)
    print()
    inst.close()
    (home / BUILT).write_text(str(size))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=20_000, help="letters (100000 for the target)")
    ap.add_argument("--procs", default="2", help="comma-separated writer process counts to time, e.g. 1,2")
    ap.add_argument("--home", type=Path, help="instance folder to keep and reuse (built there when empty)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    from sqlalchemy import func, select

    from records.settings import Settings
    from app.composition import build_instance
    from records.models import Record
    from search import indexer

    home = args.home.resolve() if args.home else Path(tempfile.mkdtemp(prefix="xinfang-reindex-"))
    if not (home / BUILT).exists():
        home.mkdir(parents=True, exist_ok=True)
        print(f"Instance {home}: registering {args.size} letters of the benchmark corpus")
        build(home, args.size, args.seed)
    inst = build_instance(Settings.from_env({}, home=str(home)))
    with inst.session() as s:
        held = s.execute(select(func.count()).select_from(Record)).scalar_one()
    from .corpus import corpus
    mean_chars = statistics.mean(len(d["subject"]) + len(d["body"]) for d in corpus(min(held, 2000), args.seed))
    print(f"{held} letters, mean length {mean_chars:.0f} characters (subject + body)")
    status = 0
    for procs in [int(p) for p in args.procs.split(",") if p.strip()]:
        started = time.perf_counter()
        report = indexer.reindex(inst, procs=procs)
        seconds = time.perf_counter() - started
        ok = indexer.check(inst).ok
        print(f"reindex, {procs} process{'es' if procs > 1 else ''}: {report.indexed} letters in {seconds:.1f} s = "
              f"{report.indexed / seconds:.1f} letters/s; index {_dir_bytes(inst.settings.index_dir) / 1e6:.1f} MB; "
              f"check {'passes' if ok else 'FAILS'}")
        status |= 0 if ok else 1
    inst.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
