"""Query passes on a kept PostgreSQL search database: the first-time queries of a
``search_bench --pg-keep`` run timed pass after pass, for one or more variants (a code tree,
server settings), alternating, with their answers compared.

    .venv/bin/python -m benchmarks.query_passes /var/tmp/sb1m --passes 6 \\
        --variant now=. --variant one-worker=.,max_parallel_workers_per_gather=1 \\
        --variant before=/tmp/old-checkout

A variant is ``LABEL=TREE[,SETTING=VALUE...]``: the packages (``search``, ``records``) of the
checkout at ``TREE`` (``.`` is this one), and server settings given to each connection
(``PGOPTIONS``). Each pass of each variant runs in a process of its own, which asks the
workdir's queries (``queries.json``) through ``PostgresBackend.search`` as a leader (the
five facets unless ``--no-facets``; no kept hits: each asking is a first time), after ten
untimed ones, so a variant's imports and connections are its own and the passes see the
same server. Passes alternate the variants' order (A B, B A, ...), so that a server that
warms or a neighbour that starts weighs on each alike.

Printed: each pass's p50 / p95 / mean, each variant's median of its passes' p95, the time
spent per range of hit counts, and how many answers (total, page, facet counts) differ from
the first variant's: a variant that is faster but answers differently is not a speed-up."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
#: hit-count ranges the time is summed over (the p95 is set by the widest queries)
RANGES = ((0, 5_000), (5_000, 20_000), (20_000, 50_000), (50_000, 200_000), (200_000, None))


class Variant:
    def __init__(self, spec: str):
        label, sep, rest = spec.partition("=")
        if not sep or not label or not rest:
            raise ValueError(f"a variant is LABEL=TREE[,SETTING=VALUE...], not {spec!r}")
        tree, *settings = rest.split(",")
        self.label = label
        self.tree = (HERE if tree == "." else Path(tree)).resolve()
        if not (self.tree / "search" / "postgres").is_dir():
            raise ValueError(f"{tree}: not a checkout of this project (no search/postgres)")
        self.settings: dict[str, str] = {}
        for s in settings:
            name, sep, value = s.partition("=")
            if not sep or not name.replace("_", "").isalnum() or not value or " " in value:
                raise ValueError(f"a server setting is NAME=VALUE without spaces, not {s!r}")
            self.settings[name] = value

    def env(self) -> dict[str, str]:
        env = dict(os.environ, XINFANG_QP_TREE=str(self.tree))
        options = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
        env["PGOPTIONS"] = " ".join(x for x in (os.environ.get("PGOPTIONS", ""), options) if x)
        return env


def digest(total: int, uids: list[str], facets) -> str:
    """What an answer says (its total, its page, its facet counts), as 16 hex digits."""
    text = json.dumps([total, uids, facets], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def worker(work: Path, count: int | None, facets: bool) -> dict:
    """One pass, in this process: the packages of ``XINFANG_QP_TREE`` (on ``sys.path``
    first); per query its milliseconds, hit count and answer digest."""
    import time

    sys.path.insert(0, os.environ.get("XINFANG_QP_TREE", str(HERE)))
    from sqlalchemy import create_engine

    from records import crypto
    from search import blind, query
    from search import postgres as pg
    from search.interface import Access

    ring = crypto.Keyring.from_json((work / "pg.keyring").read_text(encoding="utf-8"))
    blinder = blind.Blinder(ring.purpose_key("blind-token"))
    queries = json.loads((work / "queries.json").read_text(encoding="utf-8"))[:count]
    engine = create_engine((work / "pg.url").read_text(encoding="utf-8").strip())
    backend = pg.PostgresBackend(engine, blinder.key_id, cache_bytes=0)   # every asking a first time
    access = Access(principals=frozenset({"chief:all"}))

    def ask(q):
        compiled = query.compile_query(query.parse(q), blinder, None)
        return backend.search(compiled, access, per_page=20, **({} if facets else {"facets": ()}))

    for _kind, q in queries[:10]:
        ask(q)
    ms, hits, answers = [], [], []
    for _kind, q in queries:
        t = time.perf_counter()
        page = ask(q)
        ms.append((time.perf_counter() - t) * 1000)
        hits.append(page.total)
        answers.append(digest(page.total, [h.uid for h in page.hits], page.facets))
    engine.dispose()
    return {"ms": ms, "hits": hits, "answers": answers}


def run_pass(variant: Variant, work: Path, count: int | None, facets: bool) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(work)]
    cmd += ["--queries", str(count)] if count else []
    cmd += [] if facets else ["--no-facets"]
    done = subprocess.run(cmd, env=variant.env(), capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"variant {variant.label}: the pass failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(variants: list[Variant], passes: dict[str, list[dict]]) -> dict:
    """Per variant: each pass's latency, the median of the passes' p95, the time per range of
    hit counts (the mean over passes), and answers differing from the first variant's."""
    sys.path.insert(0, str(HERE))
    from benchmarks.search_bench import _latency

    first = passes[variants[0].label][0]
    out = {}
    for v in variants:
        runs = passes[v.label]
        lat = [_latency([m / 1000 for m in r["ms"]]) for r in runs]
        ranges = {}
        for lo, hi in RANGES:
            sel = [i for i, n in enumerate(first["hits"]) if n >= lo and (hi is None or n < hi)]
            if sel:
                ranges[f"{lo}-{hi or ''}"] = {"queries": len(sel), "ms": round(statistics.mean(
                    sum(r["ms"][i] for i in sel) for r in runs), 1)}
        differ = sum(1 for r in runs for a, b in zip(r["answers"], first["answers"]) if a != b)
        out[v.label] = {"tree": str(v.tree), "settings": v.settings, "passes": lat,
                        "p95_median_ms": round(statistics.median(x["p95_ms"] for x in lat), 2),
                        "p50_median_ms": round(statistics.median(x["p50_ms"] for x in lat), 2),
                        "by_hits": ranges, "answers_differing": differ,
                        "answers_compared": sum(len(r["answers"]) for r in runs)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", type=Path, help="a search_bench --workdir kept with --pg-keep "
                    "(pg.url, pg.keyring, queries.json)")
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL=TREE[,SETTING=VALUE...]",
                    help="a code tree and server settings to time (repeatable; default: now=.)")
    ap.add_argument("--passes", type=int, default=3, help="passes of each variant (default 3)")
    ap.add_argument("--queries", type=int, help="the first N queries only (default: all)")
    ap.add_argument("--no-facets", action="store_true", help="ask without the five facets")
    ap.add_argument("--json", type=Path, help="write every pass's figures here too")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    missing = [n for n in ("pg.url", "pg.keyring", "queries.json") if not (args.workdir / n).is_file()]
    if missing:
        ap.error(f"{args.workdir}: no {', '.join(missing)} (run search_bench with --pg-keep --workdir first)")
    if args.queries is not None and args.queries < 1:
        ap.error("--queries must be at least 1")
    if not json.loads((args.workdir / "queries.json").read_text(encoding="utf-8")):
        ap.error(f"{args.workdir}/queries.json holds no queries: a pass would time nothing")
    if args.worker:
        print(json.dumps(worker(args.workdir, args.queries, not args.no_facets)))
        return 0
    if args.passes < 1:
        ap.error("--passes must be at least 1")
    try:
        variants = [Variant(s) for s in (args.variant or ["now=."])]
    except ValueError as e:
        ap.error(str(e))
    if len({v.label for v in variants}) < len(variants):
        ap.error("two variants have the same label")
    passes: dict[str, list[dict]] = {v.label: [] for v in variants}
    for i in range(args.passes):
        for v in (variants if i % 2 == 0 else variants[::-1]):
            r = run_pass(v, args.workdir, args.queries, not args.no_facets)
            passes[v.label].append(r)
            p = summary([v], {v.label: [r]})[v.label]["passes"][0]
            print(f"pass {i + 1} {v.label:>12}: p50 {p['p50_ms']:8.1f}  p95 {p['p95_ms']:8.1f}  "
                  f"mean {p['mean_ms']:8.1f} ms", flush=True)
    result = summary(variants, passes)
    print(f"\n{'variant':>12} {'p50 median':>11} {'p95 median':>11}  p95 of each pass    answers differing")
    for label, r in result.items():
        each = " ".join(f"{p['p95_ms']:.0f}" for p in r["passes"])
        print(f"{label:>12} {r['p50_median_ms']:>11.1f} {r['p95_median_ms']:>11.1f}  {each:<19} "
              f"{r['answers_differing']} of {r['answers_compared']}")
    print("\nms per pass by hits (queries): " + "; ".join(
        f"{label}: " + ", ".join(f"{k} ({x['queries']}) {x['ms']:.0f}" for k, x in r["by_hits"].items())
        for label, r in result.items()))
    if args.json:
        args.json.write_text(json.dumps({"workdir": str(args.workdir), "facets": not args.no_facets,
                                         "summary": result, "passes": passes}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
