"""Search benchmark: our encrypted pipeline against plaintext Whoosh and SQLite FTS5, side by
side, on the same generated corpus and the same queries.

    .venv/bin/python -m benchmarks.search_bench --size 20000          # quick (about 15 minutes)
    .venv/bin/python -m benchmarks.search_bench --size 100000         # full

Every pipeline runs in a fresh process (so its peak memory is its own) and reports its
indexing rate (letters/s), p50/p95 query latency, index size on disk and peak RSS:

* ``encrypted``      ours: each letter sealed with its own data key (wrapped by a master
                     key) → unwrap, decrypt, normalise, bigrams, blind (HMAC) → Whoosh, one
                     shard per year; queries are parsed, blinded and run on the shards.
* ``plain-lists``    plaintext Whoosh fed the *same* token lists without decryption or
                     blinding: the difference to ``encrypted`` is the cost of encryption.
* ``plain-analyzer`` plaintext Whoosh the usual way: the same bigram analyser as a Whoosh
                     tokenizer, text given to Whoosh.
* ``pg``             ours into the PostgreSQL backend (``search.postgres``): the same
                     sealed letters → the same blind tokens → a ``tsvector`` with positions
                     and GIN indexes in a fresh database, loaded as ``xinfang search reindex``
                     does (COPY into a new table, indexes built, swapped in; ``--pg-procs``
                     processes analyse and blind); the same queries as SQL (pairs of tokens
                     and ``@@`` with ``<->`` phrases, BM25 from the rows). Also single-letter
                     updates (what a drain after a request does) and, with ``--pg-destroy``,
                     the search side of a destruction. ``--pg-url`` names a server
                     whose user may create databases; without it a throw-away cluster is
                     started in a temporary folder (Debian's PostgreSQL binaries;
                     ``--pg-shared-buffers``, 256 MB by default), or the pipeline is
                     skipped with a message. The server's settings that decide the figures
                     are listed with them (``settings``).
* ``fts5-trigram``   SQLite FTS5 with the trigram tokenizer (C speed), on the same
                     normalised text. SQLite ≤ 3.44 cannot answer a 2-character substring
                     from a trigram index: those queries fall back to ``LIKE '%xx%'``, a
                     scan of the table, reported separately.
* ``database``       the real thing on an instance: letters registered through
                     ``records.cases.operations.register`` (setup, not timed as indexing), then
                     ``xinfang search reindex`` with 1 and 2 processes, registration latency
                     including the index update (commit + outbox drain, as after a web
                     request), and the full search service (access filter, facets, re-check,
                     decryption and highlighting of 20 hits).

Queries: 2 to 6 characters cut from random letters (a third in the other script than the
letter), petitioners' names and numbers. Not part of the test suite.
"""
from __future__ import annotations

import argparse
import functools
import json
import multiprocessing as mp
import os
import platform
import re
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Memory of one Whoosh writer (ours uses the same: one shard writer open at a time).
LIMIT_MB = 256


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def _latency(times: list[float]) -> dict:
    ms = [t * 1000 for t in times]
    return {"n": len(ms), "p50_ms": round(_pct(ms, .5), 2), "p95_ms": round(_pct(ms, .95), 2),
            "mean_ms": round(statistics.mean(ms), 2) if ms else None}


def _load(work: Path) -> tuple[list[dict], list[list]]:
    with open(work / "corpus.jsonl", encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh]
    queries = json.loads((work / "queries.json").read_text(encoding="utf-8"))
    return docs, queries


def _text(d: dict) -> str:
    return d["subject"] + "\n" + d["body"]


def _timed_queries(run, queries, warm: int = 20, cpu: list | None = None) -> tuple[list[float], list[int]]:
    """Wall times and hit counts of ``queries``; with ``cpu``, their CPU times (of this
    process) are appended to it: on a shared machine a query's wall time includes the time
    it waited for a core, its CPU time much less so."""
    for _kind, q in queries[:warm]:
        run(q)
    times, counts = [], []
    for _kind, q in queries:
        t, c = time.perf_counter(), time.process_time()
        n = run(q)
        times.append(time.perf_counter() - t)
        if cpu is not None:
            cpu.append(time.process_time() - c)
        counts.append(n)
    return times, counts


def _cpu_figures(letters: int, cpu_seconds: float, cpu_times: list[float] | None = None) -> dict:
    """Indexing rate per CPU second and query latency in CPU time (see ``_timed_queries``),
    with the load average when they were taken."""
    out = {"cpu_seconds": round(cpu_seconds, 1), "letters_per_cpu_s": round(letters / cpu_seconds, 1),
           "load_average": [round(x, 2) for x in os.getloadavg()]}
    if cpu_times:
        out["query_cpu"] = _latency(cpu_times)
    return out


def _backend_query_figures(backend, blinder, queries) -> dict:
    """Latency of the queries through a search backend as a leader sees them (no facets,
    then with the five facets), by kind, and the mean number of hits."""
    from search import query
    from search.interface import Access

    access = Access(principals=frozenset({"chief:all"}))

    def run(q, facets=()):
        return backend.search(query.compile_query(query.parse(q), blinder, None), access, per_page=20,
                              **({"facets": facets} if facets is not None else {})).total

    cpu: list[float] = []
    times, counts = _timed_queries(run, queries, cpu=cpu)
    facet_times, _ = _timed_queries(lambda q: run(q, facets=None), queries)
    return {"query_latency": _latency(times), "query_cpu": _latency(cpu), "by_kind": _by_kind(queries, times),
            "by_kind_cpu": _by_kind(queries, cpu),
            "hits_mean": round(statistics.mean(counts), 1), "query_latency_with_facets": _latency(facet_times)}


def _kept_figures(backend, blinder, queries) -> dict:
    """The same queries asked three times each, with the five facets, of a PostgreSQL
    backend that keeps the hits of a query asked again (``search.postgres.hitcache``; the
    default of a server process): the first time the SQL answers, the second reads and keeps
    every hit (queries of ``MIN_HITS`` and more), the third is answered from them."""
    from search import query
    from search.interface import Access
    from search.postgres import hitcache

    access = Access(principals=frozenset({"chief:all"}))

    def run(q):
        return backend.search(query.compile_query(query.parse(q), blinder, None), access, per_page=20).total

    out = {}
    for asked in ("first", "second", "third"):
        times, counts = _timed_queries(run, queries, warm=0)   # no warming: it would be an asking
        out[asked] = _latency(times)
    out["kept"] = {**backend._hits.stats(), "min_hits": hitcache.MIN_HITS,
                   "queries_of_min_hits": sum(1 for n in counts if n >= hitcache.MIN_HITS)}
    return out


def _by_kind(queries, times) -> dict:
    out = {}
    for kind in sorted({k for k, _ in queries}):
        out[kind] = _latency([t for (k, _), t in zip(queries, times) if k == kind])
    return out


#: The corpus's last day (``corpus.letter``: received 2024-01-01 + up to 1,029 days).
LAST_DAY = "2026-10-26"


@functools.lru_cache(maxsize=1)
def _awaiting_from() -> str:
    """The first day of the letters still awaiting a decision: the corpus's last days, as many
    as an office has to decide whether to accept a letter (``records.cases.deadlines``)."""
    import datetime as dt

    from records.cases.deadlines import Limits

    return (dt.date.fromisoformat(LAST_DAY) - dt.timedelta(days=Limits().decision_days - 1)).isoformat()


def _status(d: dict) -> str:
    """A letter's state, spread as an office's are: the letters of the last 15 days await a
    decision (``_awaiting_from``: about 1.5 %); of the others a quarter are stored (Art 11)
    and the rest decided. So the past years hold no letter awaiting a decision, as an
    office's hold none when their batches are destroyed. The PostgreSQL backend keeps each
    year's letters of each kind, and each (region, year) batch of stored ones, in a partition
    of its own (``search.postgres.schema.part_of``), so searches read as many partitions as
    an office's."""
    if d["received_at"][:10] >= _awaiting_from():
        return "registered"
    return "stored" if (d["i"] * 2654435761) % 100 < 25 else "accepted"


# -- pipelines (each runs in a child process) ---------------------------------------------------
def _whoosh_docs(docs, token_lists, chars_lists):
    from search.interface import IndexDocument

    for d, toks, chars in zip(docs, token_lists, chars_lists):
        yield IndexDocument(uid=f"u{d['i']}", record_id=d["i"], serial=f"XF-{d['i']}", year=int(d["received_at"][:4]),
                            status=_status(d), channel=d["channel"], region=d["region"], category=d["category"],
                            office="XFB", received=0, doc_version=1, allowed=frozenset({"chief:all"}),
                            denied=frozenset(), text=toks, chars=chars)


def _sealed(docs):
    """Setup of the encrypted pipelines (not timed): each letter sealed under its own data
    key as the database holds it, in year order (a reindex reads the database year by
    year); the keyring and the blinder."""
    from records import crypto
    from search import blind

    ring = crypto.Keyring.generate()
    sealed = []
    for d in docs:
        uid = f"u{d['i']}"
        dek = crypto.new_key()
        ref, wrapped = crypto.wrap_data_key(ring, uid, dek)
        sealed.append((d, uid, ref, wrapped, crypto.seal_json(dek, {"subject": d["subject"], "body": d["body"]},
                                                               crypto.aad(uid, "document", 1))))
    sealed.sort(key=lambda x: x[0]["received_at"][:4])
    return ring, sealed, blind.Blinder(ring.purpose_key("blind-token"))


def run_encrypted(work: Path, procs: int) -> dict:
    """Ours, from sealed letters in memory: unwrap, decrypt, analyse, blind, index; query."""
    from records import crypto
    from search.interface import IndexDocument
    from search.whoosh.backend import WhooshBackend

    docs, queries = _load(work)
    ring, sealed, blinder = _sealed(docs)
    folder = work / f"idx-encrypted-{procs}"
    shutil.rmtree(folder, ignore_errors=True)
    backend = WhooshBackend(folder, blinder.key_id, procs=procs, limitmb=LIMIT_MB)
    del docs
    t0, c0 = time.perf_counter(), time.process_time()
    loader = backend.bulk_loader()
    for d, uid, ref, wrapped, blob in sealed:
        dek = crypto.unwrap_data_key(ring, uid, ref, wrapped)
        doc = crypto.open_json(dek, blob, crypto.aad(uid, "document", 1))
        meta = IndexDocument(uid=uid, record_id=d["i"], serial=f"XF-{d['i']}", year=int(d["received_at"][:4]),
                             status=_status(d), channel=d["channel"], region=d["region"],
                             category=d["category"], office="XFB", received=0, doc_version=1,
                             allowed=frozenset({"chief:all"}), denied=frozenset())
        # as a reindex does: analysed and blinded here, or by the sub-writers with procs=2
        loader.add_text(meta, doc["subject"] + "\n" + doc["body"], blinder)
    loader.commit()
    seconds = time.perf_counter() - t0
    out = {"pipeline": f"encrypted (procs={procs})", "letters": len(sealed), "seconds": round(seconds, 1),
           "letters_per_s": round(len(sealed) / seconds, 1), "index_bytes": _dir_bytes(folder),
           **_cpu_figures(len(sealed), time.process_time() - c0)}
    if procs == 1:
        out.update(_backend_query_figures(backend, blinder, queries))
    out["peak_rss_mb"] = round(_rss_mb(), 1)
    return out


def _nothing() -> None:
    return None


def _pg_database(admin_url: str):
    """A fresh database on the server of ``admin_url``: (url, drop())."""
    from records.db import create_database, drop_database

    name, url = create_database(admin_url, "xinfang_bench_")
    return url, lambda: drop_database(admin_url, name)


#: The server's settings a benchmark's figures depend on, reported with them.
SERVER_SETTINGS = ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "jit", "fsync")


def run_pg(work: Path, admin_url: str, updates: int, procs: int = 1, destroy: int = 0, keep: bool = False) -> dict:
    """Ours into the PostgreSQL backend, from the same sealed letters (analysed and blinded
    by ``procs`` processes, as ``xinfang search reindex --procs``); the same queries; then
    ``updates`` single-letter updates, and the search side of destroying whole batches of
    one year, at most ``destroy`` letters (``_pg_destruction``: their rows deleted, their
    partitions rewritten). With
    ``keep`` the database stays, and its URL and the corpus's keyring are written to
    ``work`` (``pg.url``, ``pg.keyring``) for later measurements on it."""
    from sqlalchemy import create_engine, text

    from records import crypto
    from search import indexer
    from search import postgres as pg_backend
    from search.interface import IndexDocument

    docs, queries = _load(work)
    ring, sealed, blinder = _sealed(docs)
    url, drop = _pg_database(admin_url)
    if keep:   # a benchmark's own throw-away key for generated letters, beside its corpus
        (work / "pg.url").write_text(url + "\n", encoding="utf-8")
        (work / "pg.keyring").write_text(ring.to_json(), encoding="utf-8")
        drop = _nothing
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            pg_backend.create_schema(conn)
            version = conn.execute(text("SHOW server_version")).scalar_one()
            settings = {name: conn.execute(text(f"SHOW {name}")).scalar_one() for name in SERVER_SETTINGS}
        # first-time queries: a backend that keeps no hits (``hitcache``), as before it existed
        backend = pg_backend.PostgresBackend(engine, blinder.key_id, procs=procs, cache_bytes=0)
        del docs

        def meta(d, uid):
            return IndexDocument(uid=uid, record_id=d["i"], serial=f"XF-{d['i']}", year=int(d["received_at"][:4]),
                                 status=_status(d), channel=d["channel"], region=d["region"],
                                 category=d["category"], office="XFB", received=0, doc_version=1,
                                 allowed=frozenset({"chief:all"}), denied=frozenset())

        t0 = time.perf_counter()
        loader = backend.bulk_loader()
        for d, uid, ref, wrapped, blob in sealed:
            dek = crypto.unwrap_data_key(ring, uid, ref, wrapped)
            doc = crypto.open_json(dek, blob, crypto.aad(uid, "document", 1))
            loader.add_text(meta(d, uid), doc["subject"] + "\n" + doc["body"], blinder)
        loader.commit()
        seconds = time.perf_counter() - t0
        info = backend.describe()
        out = {"pipeline": "encrypted, PostgreSQL backend", "server": f"PostgreSQL {version}", "settings": settings,
               "letters": len(sealed), "procs": procs,
               "seconds": round(seconds, 1), "letters_per_s": round(len(sealed) / seconds, 1),
               "index_bytes": info["bytes"],
               "sizes": {k: info[k] for k in ("table_bytes", "toast_bytes", "index_bytes")}}
        out.update(_backend_query_figures(backend, blinder, queries))
        out["asked_again"] = _kept_figures(pg_backend.PostgresBackend(engine, blinder.key_id), blinder, queries)
        # single-letter updates into the live table, as a drain after a request writes them
        times = []
        for d, uid, ref, wrapped, blob in sealed[:updates]:
            t = time.perf_counter()
            dek = crypto.unwrap_data_key(ring, uid, ref, wrapped)
            doc = crypto.open_json(dek, blob, crypto.aad(uid, "document", 1))
            backend.index([indexer.blind_document(meta(d, uid), doc["subject"] + "\n" + doc["body"], blinder)])
            times.append(time.perf_counter() - t)
        out["single_update"] = _latency(times)
        if destroy:
            out["destruction"] = _pg_destruction(engine, backend, sealed, destroy)
        out["peak_rss_mb"] = round(_rss_mb(), 1)
        return out
    finally:
        engine.dispose()
        drop()


def _whole_batches(stored: list[tuple[str, str]], count: int) -> tuple[list[str], list[str]]:
    """Of ``stored`` (region, uid) letters of one year: whole batches (regions), the largest
    first, then each next one that keeps the total within ``count`` (at least one batch);
    their regions, sorted, and their letters."""
    from collections import Counter

    chosen: list[str] = []
    total = 0
    for region, size in Counter(r for r, _ in stored).most_common():
        if chosen and total + size > count:
            continue
        chosen.append(region)
        total += size
    regions = set(chosen)
    return sorted(regions), [uid for r, uid in stored if r in regions]


def _pg_destruction(engine, backend, sealed, count: int) -> dict:
    """The search side of destroying whole batches (a region's stored letters of a year,
    ``_status``) of the year holding the most letters, as a run does, the largest batch first
    and then as many more as keep the total within ``count`` (at least one batch): their
    rows deleted and the partitions they were in purged (``delete`` with its purge), timed.
    A run destroys a whole batch, so the batches' partitions are left empty; the time is
    also given per 10,000 letters, which compares runs of different sizes. The partitions'
    size before and after is that of the batches' and of the year's letters awaiting a
    decision (``schema.part_of``; none in a past year)."""
    from collections import Counter

    from sqlalchemy import text

    from search.postgres.schema import TABLE, part_of, partition_name

    years = Counter(int(d["received_at"][:4]) for d, *_ in sealed)
    year, letters = years.most_common(1)[0]
    stored = [(d["region"], uid) for d, uid, *_ in sealed
              if int(d["received_at"][:4]) == year and _status(d) == "stored"]
    batches, uids = _whole_batches(stored, count)
    names = [partition_name(TABLE, part_of("stored", year, r)) for r in batches]
    names.append(partition_name(TABLE, part_of("registered", year, "")))

    def size() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT COALESCE(sum(pg_total_relation_size(to_regclass(n))), 0) FROM unnest(CAST(:n AS text[])) n"),
                {"n": names}).scalar_one())
    before = size()
    t = time.perf_counter()
    deleted = backend.delete(uids)
    seconds = time.perf_counter() - t
    return {"year": year, "letters_of_year": letters, "letters_in_all": len(sealed), "destroyed": deleted,
            "batches": len(batches), "seconds": round(seconds, 1),
            "seconds_per_10000": round(seconds * 10_000 / max(deleted, 1), 1), "partitions_bytes_before": before,
            "partitions_bytes_after": size()}


class _ThrowawayCluster:
    """A PostgreSQL cluster in a temporary folder on a loopback port (as scripts/test.sh
    starts one), stopped and removed at the end, with one parallel worker per query fewer
    than the machine has cores (at least one). ``url`` is None when no server binaries are
    installed. A server of ``--pg-url`` keeps its own settings; ``PGOPTIONS="-c
    max_parallel_workers_per_gather=1"`` sets them for the benchmark's connections."""

    def __init__(self, shared_buffers: str = "256MB"):
        self.shared_buffers = shared_buffers
        # parallel workers per query sized for this machine's cores, as docs/scale.md
        # ("Connections") says to set a server: the leader and its workers, one process a core
        self.workers = max(1, (os.cpu_count() or 2) - 1)
        self.dir = None
        self.url = None
        self.as_pg: list[str] = []
        self.bin = None

    def __enter__(self):
        import glob
        import socket
        import subprocess

        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
        if not bins or not os.path.exists(os.path.join(bins[-1], "initdb")):
            return self
        self.bin = bins[-1]
        self.dir = tempfile.mkdtemp(prefix="xinfang-bench-pg-")
        if os.getuid() == 0:   # the server refuses to run as root
            shutil.chown(self.dir, "postgres")
            self.as_pg = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        data = os.path.join(self.dir, "data")
        subprocess.run([*self.as_pg, f"{self.bin}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--no-locale"], check=True, capture_output=True)
        subprocess.run([*self.as_pg, f"{self.bin}/pg_ctl", "start", "-w", "-s", "-D", data, "-l",
                        os.path.join(self.dir, "server.log"), "-o",
                        f"-c listen_addresses=127.0.0.1 -p {port} -k {self.dir} -c shared_buffers={self.shared_buffers} "
                        f"-c max_parallel_workers_per_gather={self.workers}"],
                       check=True, capture_output=True)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        return self

    def __exit__(self, *exc):
        import subprocess

        if self.dir:
            subprocess.run([*self.as_pg, f"{self.bin}/pg_ctl", "stop", "-D", os.path.join(self.dir, "data"),
                            "-m", "fast", "-s"], capture_output=True)
            shutil.rmtree(self.dir, ignore_errors=True)


class _Identity:
    """A 'blinder' that leaves tokens as they are (the plaintext peers' queries)."""

    @staticmethod
    def text(tokens):
        return list(tokens)

    @staticmethod
    def char_one(ch):
        return ch


def _plain_search(ix_dir: Path):
    from whoosh import index as windex

    from search import query
    from search.whoosh.execution import to_whoosh

    ix = windex.open_dir(str(ix_dir))
    searcher = ix.searcher()

    def run(q):
        node = query.compile_query(query.parse(q), _Identity, None)
        results = searcher.search(to_whoosh(node), limit=20)
        _ = [h["uid"] for h in results]
        return len(results)

    return run


def run_plain_lists(work: Path) -> dict:
    """Plaintext Whoosh, same schema, same token lists; no decryption, no blinding."""
    from whoosh import index as windex

    from search import analysis
    from search.whoosh.schema import fields_of, make_schema

    docs, queries = _load(work)
    folder = work / "idx-plain-lists"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ix = windex.create_in(str(folder), make_schema("plaintext"))
    t0, c0 = time.perf_counter(), time.process_time()
    w = ix.writer(limitmb=LIMIT_MB)
    for d in docs:
        a = analysis.analyse(_text(d))
        doc = next(_whoosh_docs([d], [a.tokens], [sorted(a.chars)]))
        w.add_document(**fields_of(doc))
    w.commit()
    seconds = time.perf_counter() - t0
    figures = _cpu_figures(len(docs), time.process_time() - c0)
    cpu: list[float] = []
    times, counts = _timed_queries(_plain_search(folder), queries, cpu=cpu)
    return {"pipeline": "plaintext Whoosh, same token lists", "letters": len(docs), "seconds": round(seconds, 1),
            "letters_per_s": round(len(docs) / seconds, 1), "index_bytes": _dir_bytes(folder), **figures,
            "query_latency": _latency(times), "query_cpu": _latency(cpu), "by_kind": _by_kind(queries, times),
            "hits_mean": round(statistics.mean(counts), 1), "peak_rss_mb": round(_rss_mb(), 1)}


# -- the plaintext peer's analyser: the same normalisation and bigrams, as Whoosh tokenizers ----------
from whoosh.analysis import Token, Tokenizer  # noqa: E402


class Bigrams(Tokenizer):
    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, mode="", **kw):
        from search import analysis

        t = Token(positions, chars, removestops=removestops, mode=mode, **kw)
        for i, tok in enumerate(analysis.analyse(value).tokens):
            t.text, t.boost = tok, 1.0
            if positions:
                t.pos = start_pos + i
            yield t


class Chars(Tokenizer):
    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, mode="", **kw):
        from search import analysis

        t = Token(positions, chars, removestops=removestops, mode=mode, **kw)
        for c in sorted(analysis.analyse(value).chars):
            t.text, t.boost = c, 1.0
            yield t


def run_plain_analyzer(work: Path, procs: int) -> dict:
    """Plaintext Whoosh the usual way: the bigram analyser as Whoosh tokenizers."""
    from whoosh import fields, formats
    from whoosh import index as windex

    docs, queries = _load(work)
    schema = fields.Schema(
        uid=fields.ID(stored=True, unique=True), record_id=fields.STORED(), serial=fields.STORED(),
        status=fields.ID(stored=True, sortable=True), channel=fields.ID(stored=True, sortable=True),
        region=fields.ID(stored=True, sortable=True), category=fields.ID(stored=True, sortable=True),
        year=fields.NUMERIC(int, stored=True, sortable=True),
        text=fields.TEXT(analyzer=Bigrams(), phrase=True),
        chars=fields.FieldType(formats.Existence(), Chars(), scorable=True))
    folder = work / f"idx-plain-analyzer-{procs}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ix = windex.create_in(str(folder), schema)
    t0, c0 = time.perf_counter(), time.process_time()
    w = ix.writer(limitmb=LIMIT_MB, **({"procs": procs, "multisegment": True} if procs > 1 else {}))
    for d in docs:
        text = _text(d)
        w.add_document(uid=f"u{d['i']}", record_id=d["i"], serial=f"XF-{d['i']}", status=_status(d),
                       channel=d["channel"], region=d["region"], category=d["category"],
                       year=int(d["received_at"][:4]), text=text, chars=text)
    w.commit()
    seconds = time.perf_counter() - t0
    out = {"pipeline": f"plaintext Whoosh, analyser in Whoosh (procs={procs})", "letters": len(docs),
           "seconds": round(seconds, 1), "letters_per_s": round(len(docs) / seconds, 1),
           "index_bytes": _dir_bytes(folder), **_cpu_figures(len(docs), time.process_time() - c0)}
    if procs == 1:
        cpu: list[float] = []
        times, counts = _timed_queries(_plain_search(folder), queries, cpu=cpu)
        out.update(query_latency=_latency(times), query_cpu=_latency(cpu), by_kind=_by_kind(queries, times),
                   by_kind_cpu=_by_kind(queries, cpu), hits_mean=round(statistics.mean(counts), 1))
    out["peak_rss_mb"] = round(_rss_mb(), 1)
    return out


def run_fts5(work: Path) -> dict:
    """SQLite FTS5, trigram tokenizer, on the same normalised text."""
    from search import analysis

    docs, queries = _load(work)
    path = work / "fts5.sqlite3"
    for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm")):
        p.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='trigram')")
    t0 = time.perf_counter()
    db.executemany("INSERT INTO docs(rowid, body) VALUES (?, ?)",
                   ((d["i"] + 1, analysis.normalise(_text(d))) for d in docs))
    db.commit()
    seconds = time.perf_counter() - t0

    def run(q):
        text = analysis.normalise(q)
        if len(text) >= 3:
            rows = db.execute("SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT 20",
                              ('"' + text.replace('"', '""') + '"',)).fetchall()
        else:   # a trigram index cannot answer this: LIKE scans the table
            rows = db.execute("SELECT rowid FROM docs WHERE body LIKE ? LIMIT 20",
                              ("%" + text.replace("%", "").replace("_", "") + "%",)).fetchall()
        return len(rows)

    times, counts = _timed_queries(run, queries)
    two = [t for (k, q), t in zip(queries, times) if len(q) < 3]
    three = [t for (k, q), t in zip(queries, times) if len(q) >= 3]
    db.close()
    return {"pipeline": "SQLite FTS5 trigram", "sqlite": sqlite3.sqlite_version, "letters": len(docs),
            "seconds": round(seconds, 1), "letters_per_s": round(len(docs) / seconds, 1),
            "index_bytes": path.stat().st_size, "query_latency": _latency(times), "by_kind": _by_kind(queries, times),
            "two_char_like_scan": _latency(two), "three_plus_match": _latency(three),
            "hits_mean": round(statistics.mean(counts), 1), "peak_rss_mb": round(_rss_mb(), 1)}


def run_database(work: Path, registrations: int, service_queries: int) -> dict:
    """An instance: register the corpus, reindex it (1 and 2 processes), then time
    registration with its index update and the full search service."""
    from records.accounts import operations as accounts
    from records.cases import operations
    from records.settings import Settings
    from app.composition import build_instance
    from records.accounts.models import User
    from records.setup import init_instance
    from search import indexer, query

    docs, queries = _load(work)
    home = work / "instance"
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings.from_env({}, home=str(home))
    init_instance(settings, build=build_instance)
    inst = build_instance(settings)
    with inst.unit_of_work() as s:
        clerk = accounts.create_user(s, "benchclerk", "bench-password-1", ["clerk"], office="XFB").id
        leader = accounts.create_user(s, "benchleader", "bench-password-1", ["leader"], oversees=["LDJC"]).id

    def raw(d):
        return {"channel": d["channel"], "received_at": d["received_at"], "region": d["region"],
                "category": d["category"], "subject": d["subject"][:200], "body": d["body"],
                "petitioner": {"name": d["petitioner"]["name"], "phone": d["petitioner"]["phone"]}}

    t0 = time.perf_counter()
    for i in range(0, len(docs), 250):
        with inst.unit_of_work() as s:
            user = s.get(User, clerk)
            for d in docs[i:i + 250]:
                operations.register(s, raw(d), by=user)
    setup_s = time.perf_counter() - t0
    out = {"pipeline": "database (records → reindex)", "letters": len(docs),
           "register_setup_s": round(setup_s, 1)}
    for procs in (1, 2):
        t = time.perf_counter()
        report = indexer.reindex(inst, procs=procs)
        seconds = time.perf_counter() - t
        out[f"reindex_procs{procs}"] = {"seconds": round(seconds, 1),
                                        "letters_per_s": round(report.indexed / seconds, 1)}
    out["check_ok"] = indexer.check(inst).ok
    out["index_bytes"] = _dir_bytes(settings.index_dir)
    # registration, index update included (what a web request does: commit, then drain)
    extra = [json.loads(json.dumps(d)) for d in docs[:registrations]]
    times, upkeep = [], []
    for d in extra:
        t = time.perf_counter()
        with inst.unit_of_work() as s:
            operations.register(s, raw(d), by=s.get(User, clerk))
        indexer.drain(inst, wait=2.0, merge=False)   # what the request waits for
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        indexer.maintain_quietly(inst)               # after the response is sent
        upkeep.append(time.perf_counter() - t)
    out["registration_with_index"] = _latency(times)
    out["segment_upkeep_after_response"] = _latency(upkeep)
    # the full service: access filter, facets, re-check, decryption and highlighting of 20 hits
    with inst.unit_of_work() as s:
        user = s.get(User, leader)
        _ = user.overseen

    def run(q):
        with inst.unit_of_work() as s:
            return query.search(s, s.get(User, leader), q, per_page=20).total

    times, _ = _timed_queries(run, queries[:service_queries], warm=5)
    out["service_query"] = _latency(times)
    out["peak_rss_mb"] = round(_rss_mb(), 1)
    inst.close()
    return out


# -- driver ---------------------------------------------------------------------------------------
def _child(fn, args, q):
    sys.path.insert(0, str(ROOT))
    try:
        q.put(fn(*args))
    except BaseException as exc:  # noqa: BLE001 - report, do not hang the parent
        import traceback

        q.put({"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()})


def _in_child(fn, *args) -> dict:
    ctx = mp.get_context("fork")   # Whoosh's multi-process writer forks too
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn, args, q))
    p.start()
    result = q.get()
    p.join()
    return result


def _print_table(results: dict) -> None:
    rows = [("pipeline", "letters/s", "p50 ms", "p95 ms", "index MB", "peak RSS MB")]
    for r in results["pipelines"]:
        if "error" in r:
            rows.append((r.get("pipeline", "?"), "ERROR", "", "", "", ""))
            continue
        lat = r.get("query_latency") or r.get("service_query") or {}
        rate = r.get("letters_per_s") or r.get("reindex_procs1", {}).get("letters_per_s")
        rows.append((r["pipeline"], f"{rate:.0f}" if rate else "", f"{lat.get('p50_ms', '')}",
                     f"{lat.get('p95_ms', '')}", f"{r['index_bytes'] / 1e6:.1f}", f"{r['peak_rss_mb']:.0f}"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=20_000, help="letters (20000 quick, 100000 full)")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--registrations", type=int, default=100, help="timed single registrations")
    ap.add_argument("--service-queries", type=int, default=100)
    ap.add_argument("--skip-database", action="store_true", help="skip the instance phase (slow to set up)")
    ap.add_argument("--only", help="comma-separated subset: encrypted1 (or encrypted), encrypted2, plain-lists, "
                                   "plain-analyzer1, plain-analyzer2, fts5, database, pg")
    ap.add_argument("--pg-url", help="PostgreSQL server for the pg pipeline (postgresql+psycopg://user@host/db; "
                                     "the user must be allowed to create databases); default: a throw-away cluster")
    ap.add_argument("--pg-shared-buffers", default="256MB",
                    help="shared_buffers of the throw-away cluster (without --pg-url); the searches among 1,000,000 "
                         "letters read about 0.5 GB of table (see benchmarks/README.md)")
    ap.add_argument("--pg-updates", type=int, default=200, help="timed single-letter updates of the pg pipeline")
    ap.add_argument("--pg-procs", type=int, default=1, help="processes analysing and blinding the pg pipeline's letters")
    ap.add_argument("--pg-destroy", type=int, default=0,
                    help="then time the search side of destroying whole batches of one year, at most this many letters "
                         "(pg pipeline)")
    ap.add_argument("--pg-keep", action="store_true",
                    help="keep the pg pipeline's database (needs --pg-url and --workdir); its URL and the "
                         "corpus's keyring go to the workdir as pg.url and pg.keyring")
    ap.add_argument("--workdir", help="keep the indexes here (default: a temporary folder, removed)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    if not re.fullmatch(r"[1-9][0-9]*(kB|MB|GB)", args.pg_shared_buffers):
        ap.error("--pg-shared-buffers takes a size such as 256MB or 2GB")
    if args.pg_keep and not (args.pg_url and args.workdir):
        ap.error("--pg-keep needs --pg-url (a throw-away cluster is removed) and --workdir")
    sys.path.insert(0, str(ROOT))
    from benchmarks.corpus import corpus, queries

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="xinfang-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    with open(work / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for d in corpus(args.size, seed=args.seed):
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    qs = queries(args.queries, seed=args.seed, corpus_size=args.size)
    (work / "queries.json").write_text(json.dumps(qs, ensure_ascii=False), encoding="utf-8")
    gen_s = time.perf_counter() - t
    results = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "sqlite": sqlite3.sqlite_version},
        "corpus": {"letters": args.size, "seed": args.seed, "queries": len(qs), "generated_s": round(gen_s, 1),
                   "mean_chars": round(statistics.mean(len(json.loads(x)["body"]) for x in
                                                       open(work / "corpus.jsonl", encoding="utf-8")), 1)},
        "pipelines": [],
    }
    named = {"encrypted1": (run_encrypted, 1), "plain-lists": (run_plain_lists,),
             "plain-analyzer1": (run_plain_analyzer, 1), "fts5": (run_fts5,), "encrypted2": (run_encrypted, 2),
             "plain-analyzer2": (run_plain_analyzer, 2),
             "database": (run_database, args.registrations, args.service_queries),
             "pg": (run_pg, None, args.pg_updates, args.pg_procs, args.pg_destroy, args.pg_keep)}
    aliases = {"encrypted": "encrypted1", "plain-analyzer": "plain-analyzer1", "postgresql": "pg"}
    wanted = [aliases.get(n.strip(), n.strip()) for n in args.only.split(",")] if args.only else \
        [n for n in named if not (args.skip_database and n == "database")]
    unknown = [n for n in wanted if n not in named]
    if unknown:
        ap.error(f"unknown pipelines: {', '.join(unknown)}")
    plan = [named[n] for n in wanted]
    cluster = _ThrowawayCluster(args.pg_shared_buffers)
    if "pg" in wanted and not args.pg_url:
        cluster.__enter__()
        if cluster.url is None:
            print("pg: no --pg-url and no PostgreSQL server binaries (/usr/lib/postgresql/*/bin): "
                  "the PostgreSQL pipeline is skipped", file=sys.stderr)
            plan = [p for p in plan if p[0] is not run_pg]
    try:
        for fn, *fargs in plan:
            if fn is run_pg:
                fargs = [args.pg_url or cluster.url, *fargs[1:]]
            label = tuple(a for a in fargs if not (isinstance(a, str) and "://" in a))
            print(f"… {fn.__name__}{label if label else ''}", file=sys.stderr, flush=True)
            r = _in_child(fn, work, *fargs)
            if "error" in r:
                print(r["trace"], file=sys.stderr)
            results["pipelines"].append(r)
    finally:
        cluster.__exit__(None, None, None)
    by = {r.get("pipeline"): r for r in results["pipelines"]}
    enc, lists = by.get("encrypted (procs=1)"), by.get("plaintext Whoosh, same token lists")
    ana = by.get("plaintext Whoosh, analyser in Whoosh (procs=1)")
    ratios = {}
    for name, peer in (("vs plaintext lists", lists), ("vs plaintext analyser", ana)):
        if enc and peer and "error" not in enc and "error" not in peer:
            ratios[name] = {"indexing_rate_ratio": round(enc["letters_per_s"] / peer["letters_per_s"], 2),
                            "p95_ratio": round(enc["query_latency"]["p95_ms"] / peer["query_latency"]["p95_ms"], 2),
                            "p50_ratio": round(enc["query_latency"]["p50_ms"] / peer["query_latency"]["p50_ms"], 2)}
            if "letters_per_cpu_s" in peer and "query_cpu" in peer:   # per CPU second: less load-dependent
                ratios[name].update(
                    indexing_cpu_rate_ratio=round(enc["letters_per_cpu_s"] / peer["letters_per_cpu_s"], 2),
                    p95_cpu_ratio=round(enc["query_cpu"]["p95_ms"] / peer["query_cpu"]["p95_ms"], 2),
                    p50_cpu_ratio=round(enc["query_cpu"]["p50_ms"] / peer["query_cpu"]["p50_ms"], 2))
    pg = by.get("encrypted, PostgreSQL backend")
    if enc and pg and "error" not in enc and "error" not in pg:
        ratios["PostgreSQL backend vs encrypted Whoosh"] = {
            "indexing_rate_ratio": round(pg["letters_per_s"] / enc["letters_per_s"], 2),
            "p50_ratio": round(pg["query_latency"]["p50_ms"] / enc["query_latency"]["p50_ms"], 2),
            "p95_ratio": round(pg["query_latency"]["p95_ms"] / enc["query_latency"]["p95_ms"], 2),
            "p95_with_facets_ratio": round(pg["query_latency_with_facets"]["p95_ms"]
                                           / enc["query_latency_with_facets"]["p95_ms"], 2),
            "size_ratio": round(pg["index_bytes"] / enc["index_bytes"], 2)}
    results["ratios"] = ratios
    print(json.dumps(results, ensure_ascii=False, indent=1))
    print()
    _print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
