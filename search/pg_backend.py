"""The search backend for several machines: the blind tokens in the instance's PostgreSQL database.

Chosen with ``XINFANG_SEARCH_BACKEND=postgresql`` (see ``search.factory``). It holds exactly
what the Whoosh index holds — blind tokens with their positions, blind CJK characters, clear
metadata and principals — in one table of the instance's own database, so every application
machine searches the same index and the indexer can run anywhere. The table and its indexes
are created by the migration ``20261125_0006_search_pg`` (PostgreSQL only)::

    search_documents   one row per record (uid is the key)
      uid, record_id, serial, year, status, channel, region, category, office,
      received (seconds, UTC), doc_version                  clear metadata, as in the ledger
      allowed text[]   principals that may read it  (GIN; a search asks ``allowed && :mine``)
      denied  text[]   users refused it             (a search asks ``NOT denied && :mine``)
      text    tsvector blind tokens of subject, body and notes, with positions (GIN)
      chars   text[]   blind tokens of the distinct CJK characters (GIN; one-character queries)
    search_meta        name -> value: the id (never the value) of the blind-token key

How the query tree maps to SQL: a blind token is ``'tok'`` in a ``tsquery``, a phrase is
``'t1' <-> 't2' <-> 't3'`` (the tokens at consecutive positions: an exact substring), a CJK
character is ``chars @> ARRAY['c']``, metadata are columns, AND/OR/NOT are SQL's. Nothing of
a query is interpolated into SQL unchecked: every token is matched against the blind-token
alphabet (base64url, ``[A-Za-z0-9_-]``) before it is quoted into a ``tsquery`` literal, and
every value travels as a bound parameter. The ``tsvector`` is built the same way from the
document's token list (``'tok':1,7 'tok2':2 …``), so PostgreSQL's text-search parser and
dictionaries never see a letter: there is no text to see.

Access is filtered in SQL (principals, refusals, the uids the database refuses right now),
and facet counts are computed in the same SQL over every hit the access allows (one
``GROUPING SETS`` query), so a user of another office gets zero hits and zero counts.
Relevance is ``ts_rank_cd`` (cover density) over the positive text terms of the query.

Limits of ``tsvector`` (PostgreSQL's, not ours), and what they mean here:

* **Positions are capped at 16383.** A letter's tokens are numbered from 1; tokens after
  position 16383 are kept as terms (a search for one of them alone finds the letter) but
  without their real positions, so **a phrase that lies beyond position 16383 of a very long
  letter is not found** (about 16,000 characters of CJK text: a body near the 20,000
  character limit, or body plus notes). Whoosh has no such limit: when both must give the
  same answers for such letters, keep Whoosh.
* **At most 256 positions per term and letter.** A term occurring more often keeps its first
  256 positions: a phrase through its 257th and later occurrences is not found (the letter
  is still found through the earlier ones, or by any other phrase).
* A ``tsvector`` is at most 1 MB: far above what a letter of the size limits produces
  (about 20 bytes per distinct token).

The one writer: on PostgreSQL several machines share the index, so ``indexer.writer_lock``
takes a PostgreSQL advisory lock (``writer_lock`` below) instead of a lock file.

Removal: ``delete`` deletes rows; with ``purge`` (and ``purge()``, which a destruction run
calls) the table is rewritten with ``VACUUM FULL`` — new files for the table, its TOAST
table and every index (a GIN index never forgets a token on its own, even after a plain
``VACUUM``) — so none of a removed letter's tokens that no other letter has remains in the
table's files. Unlike Whoosh's year shards, the cost of that grows with the table, and it
holds an exclusive lock on the table (searches wait) while it runs: about as long as a
rebuild of the indexes. The WAL, archives and replicas keep what was written to them; see
docs/search-threat-model.md.
"""
from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Iterable, Iterator

from sqlalchemy import text as sql
from sqlalchemy.engine import Engine

from .interface import (
    FACETS, META_FIELDS, Access, And, BulkLoader, CharTerm, Everything, Hit, HitPage, IndexDocument,
    IndexKeyMismatch, Match, Node, Not, Or, Phrase, PurgeReport, Range, SearchBackend, TextTerm,
)

TABLE = "search_documents"
META = "search_meta"
#: The table a rebuild fills before it replaces ``TABLE`` (inside one transaction).
NEW_TABLE = "search_documents_new"
FORMAT = "1"

#: PostgreSQL's limits of a tsvector (``MAXENTRYPOS - 1`` and ``MAXNUMPOS``).
MAX_POSITION = 16383
MAX_POSITIONS_PER_TERM = 256

#: What a blind token looks like (``search.blind``: base64url of a truncated HMAC). Anything
#: else is refused before it gets near SQL.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
#: Metadata columns a query may compare, with their types.
_INT_FIELDS = ("year", "received")
_COLUMNS = ("uid", "record_id", "serial", "year", "status", "channel", "region", "category", "office",
            "received", "doc_version", "allowed", "denied", "text", "chars")
#: Rows per statement (drain) or per COPY (rebuild).
BATCH = 500
#: How long a purge waits for transactions that might still see the deleted rows (seconds).
PURGE_WAIT = 30.0
#: How long a purge waits for the table's lock before it gives up (searches hold it briefly).
PURGE_LOCK_TIMEOUT = "120s"
#: The advisory lock of the one index writer (a constant 64-bit key, per database).
WRITER_LOCK_KEY = int.from_bytes(hashlib.sha256(b"xinfang/search/writer").digest()[:8], "big", signed=True)


# -- the schema (the migration creates the same; a rebuild creates it under another name) ---------
def table_ddl(name: str, *, indexes: bool = True) -> list[str]:
    """CREATE statements of a documents table called ``name`` (and of its indexes)."""
    out = [(
        f'CREATE TABLE {name} ('
        ' uid text NOT NULL, record_id bigint NOT NULL, serial text NOT NULL, year integer NOT NULL,'
        ' status text NOT NULL, channel text NOT NULL, region text NOT NULL, category text NOT NULL,'
        ' office text NOT NULL, received bigint NOT NULL, doc_version integer NOT NULL,'
        ' allowed text[] NOT NULL, denied text[] NOT NULL, "text" tsvector NOT NULL, chars text[] NOT NULL,'
        f' CONSTRAINT pk_{name} PRIMARY KEY (uid))'
    )]
    return out + (index_ddl(name) if indexes else [])


def index_names(name: str) -> list[str]:
    return [f"ix_{name}_{suffix}" for suffix in ("text", "chars", "allowed", "received")]


def index_ddl(name: str) -> list[str]:
    text_ix, chars_ix, allowed_ix, received_ix = index_names(name)
    return [
        f'CREATE INDEX {text_ix} ON {name} USING gin ("text")',
        f"CREATE INDEX {chars_ix} ON {name} USING gin (chars)",
        f"CREATE INDEX {allowed_ix} ON {name} USING gin (allowed)",
        f"CREATE INDEX {received_ix} ON {name} (received)",
    ]


META_DDL = f"CREATE TABLE {META} (name text NOT NULL, value text NOT NULL, CONSTRAINT pk_{META} PRIMARY KEY (name))"


def create_schema(conn) -> None:
    """Create the tables when they are missing (what the migration does; for a database
    that is not an instance's, e.g. the benchmark's)."""
    exists = conn.execute(sql("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE}).scalar_one()
    if not exists:
        for ddl in table_ddl(TABLE):
            conn.execute(sql(ddl))
    if not conn.execute(sql("SELECT to_regclass(:t) IS NOT NULL"), {"t": META}).scalar_one():
        conn.execute(sql(META_DDL))


# -- values ------------------------------------------------------------------------------------------
def _check_token(token: str) -> str:
    if not isinstance(token, str) or not _TOKEN_RE.match(token):
        raise TypeError("the search index accepts blind tokens only, never text")
    return token


def tsvector_literal(tokens: list[str]) -> str:
    """The ``tsvector`` of a document's blind tokens (position = index + 1), within
    PostgreSQL's limits: positions past ``MAX_POSITION`` are dropped except a term's first
    (kept at ``MAX_POSITION``, so the term is still found), at most
    ``MAX_POSITIONS_PER_TERM`` positions per term (the first ones)."""
    positions: dict[str, list[int]] = {}
    for i, tok in enumerate(tokens, 1):
        got = positions.get(tok)
        if got is None:
            positions[tok] = [min(i, MAX_POSITION)]
        elif i <= MAX_POSITION and len(got) < MAX_POSITIONS_PER_TERM:
            got.append(i)
    for tok in positions:
        _check_token(tok)
    return " ".join(f"'{tok}':{','.join(map(str, pos))}" for tok, pos in positions.items())


def _quoted(token: str) -> str:
    return f"'{_check_token(token)}'"


def tsquery_literal(tokens: Iterable[str]) -> str:
    """A phrase of blind tokens: ``'t1' <-> 't2' <-> …`` (one token: the term)."""
    return " <-> ".join(_quoted(t) for t in tokens)


def _row(doc: IndexDocument) -> dict:
    return {
        "uid": doc.uid, "record_id": int(doc.record_id), "serial": doc.serial, "year": int(doc.year),
        "status": doc.status, "channel": doc.channel, "region": doc.region, "category": doc.category,
        "office": doc.office, "received": int(doc.received), "doc_version": int(doc.doc_version),
        "allowed": sorted(doc.allowed), "denied": sorted(doc.denied), "text": tsvector_literal(doc.text),
        "chars": sorted({_check_token(c) for c in doc.chars}),
    }


_UPSERT = (
    f"INSERT INTO {TABLE} (uid, record_id, serial, year, status, channel, region, category, office, received,"
    ' doc_version, allowed, denied, "text", chars) VALUES (:uid, :record_id, :serial, :year, :status, :channel,'
    " :region, :category, :office, :received, :doc_version, CAST(:allowed AS text[]), CAST(:denied AS text[]),"
    " CAST(:text AS tsvector), CAST(:chars AS text[])) ON CONFLICT (uid) DO UPDATE SET "
    + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in _COLUMNS if c != "uid")
)


# -- queries -----------------------------------------------------------------------------------------
class _Compiled:
    """A query tree as a SQL condition on ``d`` with bound parameters; the tsqueries of its
    positive text terms are kept for ranking."""

    def __init__(self):
        self.params: dict = {}
        self.rank: list[str] = []

    def bind(self, value) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def where(self, node: Node, positive: bool = True) -> str:
        if isinstance(node, Everything):
            return "TRUE"
        if isinstance(node, (TextTerm, Phrase)):
            tsq = tsquery_literal((node.token,) if isinstance(node, TextTerm) else node.tokens)
            if positive:
                self.rank.append(tsq)
            return f'd."text" @@ CAST({self.bind(tsq)} AS tsquery)'
        if isinstance(node, CharTerm):
            return f"d.chars @> CAST({self.bind([_check_token(node.token)])} AS text[])"
        if isinstance(node, Match):
            column = _meta_column(node.field)
            value = int(node.value) if node.field in _INT_FIELDS else str(node.value)
            return f"d.{column} = {self.bind(value)}"
        if isinstance(node, Range):
            column = _meta_column(node.field)
            if node.field not in _INT_FIELDS:
                raise TypeError(f"no range over {node.field!r}")
            parts = []
            if node.low is not None:
                parts.append(f"d.{column} >= {self.bind(int(node.low))}")
            if node.high is not None:
                parts.append(f"d.{column} <= {self.bind(int(node.high))}")
            return "(" + " AND ".join(parts) + ")" if parts else "TRUE"
        if isinstance(node, And):
            return "(" + " AND ".join(self.where(n, positive) for n in node.items) + ")" if node.items else "TRUE"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.where(n, positive) for n in node.items) + ")" if node.items else "FALSE"
        if isinstance(node, Not):
            return f"NOT {self.where(node.item, not positive)}"
        raise TypeError(f"unknown query node {node!r}")

    def access(self, access: Access, exclude_uid: str | None = None) -> list[str]:
        out = []
        if access.principals is not None:
            out.append(f"d.allowed && CAST({self.bind(sorted(access.principals))} AS text[])")
        if access.denied:
            out.append(f"NOT (d.denied && CAST({self.bind(sorted(access.denied))} AS text[]))")
        excluded = set(access.excluded_uids) | ({exclude_uid} if exclude_uid else set())
        if excluded:
            out.append(f"d.uid <> ALL (CAST({self.bind(sorted(excluded))} AS text[]))")
        return out


def _literal(field: str) -> str:
    """A facet's name as a SQL string literal (facet names are checked column names)."""
    return "'" + _meta_column(field) + "'"


def _hits(rows) -> list[Hit]:
    return [Hit(uid=r.uid, record_id=r.record_id, serial=r.serial, score=float(r.score)) for r in rows]


def _meta_column(field: str) -> str:
    if field not in META_FIELDS and field != "received":
        raise TypeError(f"unknown field {field!r}")
    return field


# -- the one writer, across machines -----------------------------------------------------------------
@contextlib.contextmanager
def writer_lock(engine: Engine, wait: float | None = None) -> Iterator[bool]:
    """Hold the index's writer lock: a PostgreSQL advisory lock of this database, on a
    connection of its own (in autocommit, so it holds no snapshot). Yields False when it
    could not be had within ``wait`` seconds (None: wait as long as it takes). The server
    releases it when the connection ends, so a writer that dies leaves no stale lock."""
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    got = False
    try:
        if wait is None:
            conn.execute(sql("SELECT pg_advisory_lock(:k)"), {"k": WRITER_LOCK_KEY})
            got = True
        else:
            deadline = time.monotonic() + wait
            delay = 0.005
            while True:
                got = bool(conn.execute(sql("SELECT pg_try_advisory_lock(:k)"), {"k": WRITER_LOCK_KEY}).scalar_one())
                if got or time.monotonic() >= deadline:
                    break
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 0.1)
        yield got
    finally:
        try:
            if got:
                conn.execute(sql("SELECT pg_advisory_unlock(:k)"), {"k": WRITER_LOCK_KEY})
        except Exception:  # noqa: BLE001 - closing the session releases it anyway
            conn.invalidate()
        conn.close()


def _wait_for_older_snapshots(conn, timeout: float) -> bool:
    """Wait until no transaction that began before now can still see rows deleted before
    now (VACUUM FULL copies such "recently dead" rows into the new files). Returns False
    when some were still running after ``timeout`` seconds."""
    horizon = int(conn.execute(sql("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")).scalar_one())
    deadline = time.monotonic() + timeout
    while True:
        oldest = int(conn.execute(sql("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")).scalar_one())
        older = conn.execute(sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL "
            "AND age(backend_xmin) > age(CAST(:x AS xid))"), {"x": str(horizon % (1 << 32))}).scalar_one()
        if oldest >= horizon and not older:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


# -- the backend ---------------------------------------------------------------------------------------
class PostgresBackend(SearchBackend):
    """Blind tokens in ``search_documents`` of the instance's PostgreSQL database."""

    def __init__(self, engine: Engine, key_id: str):
        if engine.dialect.name != "postgresql":
            from records.errors import ConfigurationError

            raise ConfigurationError("The PostgreSQL search backend needs a PostgreSQL database.")
        self.engine = engine
        self.key_id = key_id

    # -- the key ---------------------------------------------------------------------------------
    def _check_key(self, conn, *, claim: bool = False) -> None:
        """Refuse an index built with another key; with ``claim`` an empty index takes ours."""
        if claim:
            conn.execute(sql(f"INSERT INTO {META} (name, value) VALUES ('key_id', :k), ('format', :f) "
                             "ON CONFLICT (name) DO NOTHING"), {"k": self.key_id, "f": FORMAT})
        rows = dict(conn.execute(sql(f"SELECT name, value FROM {META} WHERE name IN ('key_id', 'format')")).all())
        if rows and (rows.get("key_id") != self.key_id or rows.get("format", FORMAT) != FORMAT):
            raise IndexKeyMismatch("The search index in the database was built with another blind-token key or "
                                   "format; rebuild it with 'xinfang search reindex'.")

    # -- writing ---------------------------------------------------------------------------------
    def index(self, docs: Iterable[IndexDocument], *, merge: bool = True) -> int:
        rows = [_row(d) for d in docs]
        if not rows:
            return 0
        with self.engine.begin() as conn:
            self._check_key(conn, claim=True)
            for i in range(0, len(rows), BATCH):
                conn.execute(sql(_UPSERT), rows[i:i + BATCH])
        return len(rows)

    def delete(self, uids: Iterable[str], *, purge: bool = True) -> int:
        uids = sorted(set(uids))
        if not uids:
            return 0
        found = 0
        with self.engine.begin() as conn:
            self._check_key(conn)
            for i in range(0, len(uids), BATCH):
                found += conn.execute(sql(f"DELETE FROM {TABLE} WHERE uid = ANY (CAST(:u AS text[]))"),
                                      {"u": uids[i:i + BATCH]}).rowcount
        if purge and found:
            self._vacuum_full()
        return found

    def purge(self, years: Iterable[int] | None = None) -> PurgeReport:
        """``VACUUM FULL`` of the table: new files holding the live rows only (the table is
        not sharded, so ``years`` cannot narrow it)."""
        self._vacuum_full()
        return PurgeReport(shards=[TABLE], segments_rewritten=1, documents_kept=self.doc_count())

    def _vacuum_full(self) -> None:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            _wait_for_older_snapshots(conn, PURGE_WAIT)
            conn.execute(sql(f"SET lock_timeout = '{PURGE_LOCK_TIMEOUT}'"))
            try:
                conn.execute(sql(f"VACUUM (FULL, ANALYZE) {TABLE}"))
            finally:
                conn.execute(sql("RESET lock_timeout"))

    def recover(self) -> None:
        """A rebuild runs in one transaction, so a crashed one left nothing; a table of an
        interrupted rebuild made by hand is dropped."""
        with self.engine.begin() as conn:
            if conn.execute(sql("SELECT to_regclass(:t)"), {"t": NEW_TABLE}).scalar() is not None:
                conn.execute(sql(f"DROP TABLE {NEW_TABLE}"))

    # -- reading ---------------------------------------------------------------------------------
    def search(self, query: Node, access: Access, *, sort: str = "relevance", page: int = 1,
               per_page: int = 20, facets: Iterable[str] = FACETS) -> HitPage:
        facets = tuple(facets)
        for f in facets:
            _meta_column(f)
        empty = HitPage(total=0, hits=[], facets={f: {} for f in facets})
        if access.is_empty:
            return empty
        c = _Compiled()
        where = " AND ".join([c.where(query), *c.access(access)])
        if sort == "relevance" and c.rank:
            score = f'ts_rank_cd(d."text", CAST({c.bind(" | ".join(f"({q})" for q in c.rank))} AS tsquery))'
            order = "score DESC, d.received DESC, d.record_id DESC"
        else:
            score = "1.0" if sort == "relevance" else "0.0"
            order = "d.received ASC, d.record_id ASC" if sort == "oldest" else "d.received DESC, d.record_id DESC"
        page, per_page = max(1, int(page)), max(1, int(per_page))
        limit, offset = c.bind(per_page), c.bind((page - 1) * per_page)
        with self.engine.connect() as conn:
            self._check_key(conn)
            if facets:
                return self._page_and_facets(conn, c, where, score, order, limit, offset, facets)
            rows = conn.execute(sql(
                f"SELECT d.uid, d.record_id, d.serial, {score} AS score, count(*) OVER () AS total FROM {TABLE} d "
                f"WHERE {where} ORDER BY {order} LIMIT {limit} OFFSET {offset}"), c.params).all()
            total = rows[0].total if rows else self._count(conn, c, where) if page > 1 else 0
        return HitPage(total=int(total), hits=_hits(rows), facets={})

    @staticmethod
    def _count(conn, c: _Compiled, where: str) -> int:
        return conn.execute(sql(f"SELECT count(*) FROM {TABLE} d WHERE {where}"), c.params).scalar_one()

    @staticmethod
    def _page_and_facets(conn, c: _Compiled, where: str, score: str, order: str, limit: str, offset: str,
                         facets: tuple[str, ...]) -> HitPage:
        """The page, the total and the facet counts from one pass over the hits: each hit's
        tsvector is read (and scored) once, then the page is the first rows in ``order`` and
        the counts a grouping set per facet (the empty set gives the total)."""
        columns = ", ".join(f"d.{f}" for f in facets if f not in ("uid", "record_id", "serial", "received"))
        groupings = ", ".join(f"GROUPING(h.{f}) AS g_{f}" for f in facets)
        sets = ", ".join(f"(h.{f})" for f in facets)
        rows = conn.execute(sql(
            f"WITH h AS MATERIALIZED (SELECT d.uid, d.record_id, d.serial, d.received, {columns}, {score} AS score "
            f"FROM {TABLE} d WHERE {where}) "
            f"SELECT 'hit' AS part, p.uid, p.record_id, p.serial, p.score, p.rank, NULL AS facet, NULL AS value, "
            f"NULL AS n FROM (SELECT d.*, row_number() OVER (ORDER BY {order}) AS rank FROM h d) p "
            f"WHERE p.rank > {offset} AND p.rank <= {offset} + {limit} "
            f"UNION ALL SELECT 'count', NULL, NULL, NULL, NULL, NULL, "
            f"CASE {' '.join(f'WHEN g_{f} = 0 THEN {_literal(f)}' for f in facets)} END, value, n FROM ("
            f"SELECT {groupings}, COALESCE({', '.join(f'CAST(h.{f} AS text)' for f in facets)}) AS value, "
            f"count(*) AS n FROM h GROUP BY GROUPING SETS ({sets}, ())) g"), c.params).all()
        total = 0
        found: dict[str, dict[str, int]] = {f: {} for f in facets}
        for row in rows:
            if row.part == "count":
                if row.facet is None:
                    total = int(row.n)
                else:
                    found[row.facet][row.value] = int(row.n)
        if not total:
            return HitPage(total=0, hits=[], facets={f: {} for f in facets})
        counts = {f: dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))) for f, v in found.items()}
        return HitPage(total=total, hits=_hits(sorted((r for r in rows if r.part == "hit"), key=lambda r: r.rank)),
                       facets=counts)

    def similar(self, weighted: dict[str, float], access: Access, *, exclude_uid: str | None = None,
                limit: int = 10) -> list[Hit]:
        """Documents holding any of the weighted tokens; a document's score is the weight of
        the tokens it holds, ``overlap`` that weight's share of the total. Each token's
        documents come from the GIN index (one bitmap scan per token, no document read)."""
        if not weighted or access.is_empty:
            return []
        tokens = list(weighted)
        total = sum(weighted.values()) or 1.0
        c = _Compiled()
        cond = " AND ".join(["d.\"text\" @@ q.tq", *c.access(access, exclude_uid)])
        params = c.params | {"toks": tokens, "ws": [float(weighted[t]) for t in tokens],
                             "tqs": [_quoted(t) for t in tokens], "lim": int(limit)}
        with self.engine.connect() as conn:
            self._check_key(conn)
            rows = conn.execute(sql(
                "SELECT m.uid, m.record_id, m.serial, sum(q.w) AS score "
                "FROM unnest(CAST(:toks AS text[]), CAST(:ws AS float8[]), CAST(:tqs AS tsquery[])) AS q(tok, w, tq) "
                f"CROSS JOIN LATERAL (SELECT d.uid, d.record_id, d.serial FROM {TABLE} d WHERE {cond}) AS m "
                "GROUP BY m.uid, m.record_id, m.serial ORDER BY score DESC, m.record_id DESC LIMIT :lim"),
                params).all()
        return [Hit(uid=r.uid, record_id=r.record_id, serial=r.serial, score=float(r.score),
                    overlap=float(r.score) / total) for r in rows]

    def doc_frequencies(self, tokens: Iterable[str]) -> dict[str, int]:
        tokens = list(dict.fromkeys(tokens))
        if not tokens:
            return {}
        with self.engine.connect() as conn:
            self._check_key(conn)
            rows = conn.execute(sql(
                f"SELECT q.tok, (SELECT count(*) FROM {TABLE} d WHERE d.\"text\" @@ q.tq) AS n "
                "FROM unnest(CAST(:toks AS text[]), CAST(:tqs AS tsquery[])) AS q(tok, tq)"),
                {"toks": tokens, "tqs": [_quoted(t) for t in tokens]}).all()
        return {r.tok: int(r.n) for r in rows}

    def doc_count(self) -> int:
        with self.engine.connect() as conn:
            self._check_key(conn)
            return int(conn.execute(sql(f"SELECT count(*) FROM {TABLE}")).scalar_one())

    def stored_documents(self) -> Iterator[dict]:
        with self.engine.connect() as conn:
            self._check_key(conn)
            result = conn.execution_options(stream_results=True, yield_per=1000).execute(sql(
                f"SELECT uid, record_id, serial, year, status, channel, region, category, office, received, "
                f"doc_version, allowed, denied FROM {TABLE} ORDER BY uid"))
            for row in result.mappings():
                out = dict(row)
                out["allowed"] = " ".join(sorted(out["allowed"]))
                out["denied"] = " ".join(sorted(out["denied"]))
                yield out

    def describe(self) -> dict:
        with self.engine.connect() as conn:
            self._check_key(conn)
            row = conn.execute(sql(
                f"SELECT (SELECT count(*) FROM {TABLE}) AS documents, pg_total_relation_size(c.oid) AS bytes, "
                "pg_relation_size(c.oid) AS table_bytes, pg_indexes_size(c.oid) AS index_bytes, "
                "COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0) AS toast_bytes, "
                "COALESCE(s.n_dead_tup, 0) AS dead_rows "
                "FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
                "WHERE c.oid = CAST(:t AS regclass)"), {"t": TABLE}).mappings().one()
        return {"backend": "postgresql", "table": TABLE, "key_id": self.key_id, **{k: int(v) for k, v in row.items()},
                "limits": {"max_position": MAX_POSITION, "max_positions_per_term": MAX_POSITIONS_PER_TERM}}

    # -- rebuilding ------------------------------------------------------------------------------
    def bulk_loader(self) -> BulkLoader:
        return _PgBulkLoader(self)


class _PgBulkLoader(BulkLoader):
    """A rebuild in one transaction of its own connection: a fresh table is filled (COPY in
    batches), indexed and analysed, then takes the old table's place (drop, rename) at
    ``commit``. Until then searches read the old table; ``cancel`` rolls everything back."""

    def __init__(self, backend: PostgresBackend):
        self.backend = backend
        self.raw = backend.engine.raw_connection()
        self.dbapi = self.raw.driver_connection
        self.copy = type(self.dbapi).__module__.split(".")[0] == "psycopg" and hasattr(self.dbapi, "cursor")
        self.cur = self.dbapi.cursor()
        self.pending: list[tuple] = []
        self.count = 0
        try:
            self.cur.execute(f"DROP TABLE IF EXISTS {NEW_TABLE}")
            for ddl in table_ddl(NEW_TABLE, indexes=False):
                self.cur.execute(ddl)
        except BaseException:
            self._close(commit=False)
            raise

    def add(self, doc: IndexDocument) -> None:
        r = _row(doc)
        self.pending.append(tuple(r[c] for c in _COLUMNS))
        if len(self.pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        columns = ", ".join(f'"{c}"' for c in _COLUMNS)
        if self.copy:
            with self.cur.copy(f"COPY {NEW_TABLE} ({columns}) FROM STDIN") as cp:
                for row in self.pending:
                    cp.write_row(row)
        else:  # another driver: batched INSERTs
            marks = ", ".join("%s" for _ in _COLUMNS)
            self.cur.executemany(f"INSERT INTO {NEW_TABLE} ({columns}) VALUES ({marks})", self.pending)
        self.count += len(self.pending)
        self.pending = []

    def commit(self) -> None:
        try:
            self._flush()
            cur = self.cur
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for ddl in index_ddl(NEW_TABLE):
                cur.execute(ddl)
            cur.execute(f"ANALYZE {NEW_TABLE}")
            # the swap: searches wait for this commit only, then read the new table
            cur.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
            cur.execute(f"DROP TABLE {TABLE}")
            cur.execute(f"ALTER TABLE {NEW_TABLE} RENAME TO {TABLE}")
            cur.execute(f"ALTER TABLE {TABLE} RENAME CONSTRAINT pk_{NEW_TABLE} TO pk_{TABLE}")
            for old, new in zip(index_names(NEW_TABLE), index_names(TABLE)):
                cur.execute(f"ALTER INDEX {old} RENAME TO {new}")
            cur.execute(f"DELETE FROM {META}")
            cur.execute(f"INSERT INTO {META} (name, value) VALUES ('key_id', %s), ('format', %s)",
                        (self.backend.key_id, FORMAT))
        except BaseException:
            self._close(commit=False)
            raise
        self._close(commit=True)

    def cancel(self) -> None:
        self.pending = []
        self._close(commit=False)

    def _close(self, *, commit: bool) -> None:
        raw, self.raw = self.raw, None
        if raw is None:
            return
        try:
            if commit:
                self.dbapi.commit()
            else:
                self.dbapi.rollback()
        finally:
            with contextlib.suppress(Exception):
                self.cur.close()
            raw.close()
