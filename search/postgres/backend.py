"""The PostgreSQL search backend: reading, writing, purging and rebuilding the table."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from sqlalchemy import text as sql
from sqlalchemy.engine import Engine

from records.db import wait_for_older_snapshots

from .. import scoring
from ..interface import (
    FACETS, Access, BulkLoader, Hit, HitPage, IndexDocument, IndexKeyMismatch, IndexSchemeOutdated, Node,
    PurgeReport, SearchBackend, outdated_message,
)
from . import hitcache
from .compile import (
    LEAD_DEEPEST, LEAD_FROM, SERIAL_BELOW, SPLIT_FROM, Compiled, hits, leading_bound, leading_pass, meta_column,
    most_hits, one_pass, positive_tokens, two_parts,
)
from .bulk import PgBulkLoader
from .schema import (
    BATCH, FORMAT, HITS_IN_MEMORY, MAX_POSITION, MAX_POSITIONS_PER_TERM, META, MOVE, MOVED, NEW_TABLE, NEW_TERMS,
    PURGE_LOCK_TIMEOUT, PURGE_WAIT, TABLE, TERMS, UPSERT, destroyable, ensure_partitions, log_changes, part_year,
    partitions, quoted, row_of, term_number, terms,
)


# -- the backend ---------------------------------------------------------------------------------------
class PostgresBackend(SearchBackend):
    """Blind tokens in ``search_documents`` of the instance's PostgreSQL database."""

    def __init__(self, engine: Engine, key_id: str, *, procs: int = 1, cache_bytes: int = hitcache.DEFAULT_CACHE_BYTES):
        if engine.dialect.name != "postgresql":
            from records.errors import ConfigurationError

            raise ConfigurationError("The PostgreSQL search backend needs a PostgreSQL database.")
        self.engine = engine
        self.key_id = key_id
        #: processes that analyse and blind the letters of a rebuild (``bulk.PgBulkLoader``)
        self.procs = max(1, int(procs))
        #: the hits of queries asked again, kept in step with writes (``hitcache``)
        self._hits = hitcache.HitCache(cache_bytes)

    # -- the key and the statistics -----------------------------------------------------------
    def _check_key(self, conn, *, claim: bool = False) -> dict[str, str]:
        """The index's meta rows; refuses an index built with another key or an older token
        scheme. With ``claim`` an empty index takes our key and scheme."""
        if claim:
            conn.execute(sql(f"INSERT INTO {META} (name, value) VALUES ('key_id', :k), ('format', :f), "
                             "('documents', '0'), ('length_sum', '0') ON CONFLICT (name) DO NOTHING"),
                         {"k": self.key_id, "f": FORMAT})
        rows = dict(conn.execute(sql(f"SELECT name, value FROM {META}")).all())
        if rows and rows.get("key_id") != self.key_id:
            raise IndexKeyMismatch("The search index in the database was built with another blind-token key; "
                                   "rebuild it with 'xinfang search reindex'.")
        if rows and rows.get("format", "1") != FORMAT:
            raise IndexSchemeOutdated(outdated_message(rows.get("format", "1")))
        return rows

    @staticmethod
    def _add_to_stats(conn, documents: int, length: int) -> None:
        """Keep the live letters' count and length sum (``search.scoring``) with the rows."""
        for name, delta in (("documents", documents), ("length_sum", length)):
            if delta:
                conn.execute(sql(f"UPDATE {META} SET value = CAST(CAST(value AS bigint) + :d AS text) WHERE name = :n"),
                             {"d": int(delta), "n": name})

    # -- writing ---------------------------------------------------------------------------------
    def index(self, docs: Iterable[IndexDocument], *, merge: bool = True) -> int:
        docs = list({d.uid: d for d in docs}.values())   # the last of a uid given twice
        rows = [row_of(d) for d in docs]
        if not rows:
            return 0
        with self.engine.begin() as conn:
            self._check_key(conn, claim=True)
            old = conn.execute(sql(
                f'SELECT uid, part, length, tsvector_to_array("text") AS toks, chars FROM {TABLE} '
                "WHERE uid = ANY (CAST(:u AS text[]))"), {"u": [r["uid"] for r in rows]}).all()
            parts = {r["part"] for r in rows}
            ensure_partitions(conn, TABLE, parts)
            ensure_partitions(conn, TERMS, parts)
            new_part = {r["uid"]: r["part"] for r in rows}
            leaving: dict[str, list[str]] = {}
            for o in old:
                if o.part != new_part[o.uid]:
                    leaving.setdefault(o.part, []).append(o.uid)
            for part, uids in sorted(leaving.items()):   # each a statement of one partition
                conn.execute(sql(MOVE), {"p": part, "u": uids})
            # a dead copy left among the decided letters is of a letter never destroyed: no
            # destruction need rewrite that year's largest partition for it
            self._mark_moved(conn, {p for p in leaving if destroyable(p)})
            for i in range(0, len(rows), BATCH):
                conn.execute(sql(UPSERT), rows[i:i + BATCH])
            change: Counter = Counter()
            for o in old:
                change.update({(o.part, t): -1 for t in terms(o.toks, o.chars)})
            for d, r in zip(docs, rows):
                change.update({(r["part"], t): 1 for t in terms(d.text, r["chars"])})
            self._count_terms(conn, change)
            self._add_to_stats(conn, len(rows) - len(old), sum(r["length"] for r in rows) - sum(o.length for o in old))
            log_changes(conn, [r["uid"] for r in rows])   # last: its lock is held to the commit
        return len(rows)

    def delete(self, uids: Iterable[str], *, purge: bool = True) -> int:
        uids = sorted(set(uids))
        if not uids:
            return 0
        found = 0
        with self.engine.begin() as conn:
            self._check_key(conn)
            length, parts, change = 0, set(), Counter()
            for i in range(0, len(uids), BATCH):
                gone = conn.execute(sql(f"DELETE FROM {TABLE} WHERE uid = ANY (CAST(:u AS text[])) "
                                        'RETURNING length, part, tsvector_to_array("text") AS toks, chars'),
                                    {"u": uids[i:i + BATCH]}).all()
                found += len(gone)
                length += sum(g.length for g in gone)
                parts |= {g.part for g in gone}
                for g in gone:
                    change.update({(g.part, t): -1 for t in terms(g.toks, g.chars)})
            if found:
                self._count_terms(conn, change)
                self._add_to_stats(conn, -found, -length)
                self._mark_moved(conn, parts)   # their dead rows are there until a purge
                log_changes(conn, uids, forget=True)
        if purge and found:
            self.purge(deleted_only=True)
        return found

    @staticmethod
    def _count_terms(conn, change: Counter) -> None:
        """Add ``change`` ((part, term) -> letters more or fewer) to ``TERMS``; a term no
        letter of a part holds any more leaves that part's partition (a purge of the part
        then rewrites its files without it). Sorted, so two writers could never deadlock."""
        items = sorted((key, n) for key, n in change.items() if n)
        if not items:
            return
        conn.execute(sql(
            f"INSERT INTO {TERMS} AS t (part, term, documents) "
            "SELECT * FROM unnest(CAST(:p AS text[]), CAST(:t AS bigint[]), CAST(:n AS integer[])) "
            "ON CONFLICT (term, part) DO UPDATE SET documents = t.documents + EXCLUDED.documents"),
            {"p": [p for (p, _), _ in items], "t": [t for (_, t), _ in items], "n": [n for _, n in items]})
        fewer = [key for key, n in items if n < 0]
        if fewer:
            conn.execute(sql(
                f"DELETE FROM {TERMS} t USING unnest(CAST(:p AS text[]), CAST(:t AS bigint[])) AS f(part, term) "
                "WHERE t.part = f.part AND t.term = f.term AND t.documents <= 0"),
                {"p": [p for p, _ in fewer], "t": [t for _, t in fewer]})

    @staticmethod
    def _mark_moved(conn, parts: Iterable[str]) -> None:
        for part in sorted(set(parts)):
            conn.execute(sql(f"INSERT INTO {META} (name, value) VALUES (:n, '1') ON CONFLICT (name) DO NOTHING"),
                         {"n": f"{MOVED}{part}"})

    def purge(self, years: Iterable[int] | None = None, *, deleted_only: bool = False) -> PurgeReport:
        """``VACUUM FULL`` of partitions of the letters' table and of the terms' (``TERMS``):
        new files holding their live rows only, and new indexes. Always those holding dead
        rows of deleted or moved letters (marked ``MOVED`` by the writer that deleted or
        moved them); with ``years``, every partition of those years too (an operator's
        ``xinfang search purge --year``: old versions of changed letters go with them);
        None: every partition. With ``deleted_only`` (a destruction run, after its
        deletions) the marked ones only: the batch's partition (``part_of``: its region's
        stored letters of its year) and the partitions of letters awaiting a decision its
        letters left when they were stored, so the cost follows the batch, not the year or
        the table."""
        with self.engine.connect() as conn:
            have = {table: partitions(conn, table) for table in (TABLE, TERMS)}
            moved = {n[len(MOVED):] for n in conn.execute(sql(
                f"SELECT name FROM {META} WHERE name LIKE '{MOVED}%'")).scalars()}
            conn.rollback()
        if years is None and not deleted_only:
            names = [TABLE, TERMS]
        else:
            wanted = set() if deleted_only else {int(y) for y in years}
            names = [name for table in (TABLE, TERMS) for p, name in sorted(have[table].items())
                     if p in moved or part_year(p) in wanted]
        self._vacuum_full(names)
        if moved:
            with self.engine.begin() as conn:
                conn.execute(sql(f"DELETE FROM {META} WHERE name = ANY (CAST(:n AS text[]))"),
                             {"n": [f"{MOVED}{p}" for p in moved]})
        return PurgeReport(shards=names, segments_rewritten=len(names), documents_kept=self.doc_count())

    def _vacuum_full(self, names: list[str]) -> None:
        if not names:
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            wait_for_older_snapshots(conn, PURGE_WAIT)
            conn.execute(sql(f"SET lock_timeout = '{PURGE_LOCK_TIMEOUT}'"))
            try:
                for name in names:
                    conn.execute(sql(f"VACUUM (FULL, ANALYZE) {name}"))
            finally:
                conn.execute(sql("RESET lock_timeout"))

    def recover(self) -> None:
        """A rebuild runs in one transaction, so a crashed one left nothing; a table of an
        interrupted rebuild made by hand is dropped."""
        with self.engine.begin() as conn:
            for table in (NEW_TABLE, NEW_TERMS):
                if conn.execute(sql("SELECT to_regclass(:t)"), {"t": table}).scalar() is not None:
                    conn.execute(sql(f"DROP TABLE {table}"))

    # -- reading ---------------------------------------------------------------------------------
    def search(self, query: Node, access: Access, *, sort: str = "relevance", page: int = 1,
               per_page: int = 20, facets: Iterable[str] = FACETS) -> HitPage:
        facets = tuple(facets)
        for f in facets:
            meta_column(f)
        empty = HitPage(total=0, hits=[], facets={f: {} for f in facets})
        if access.is_empty:
            return empty
        c = Compiled()
        where = " AND ".join([c.where(query), *c.access(access)])
        page, per_page = max(1, int(page)), max(1, int(per_page))
        key = hitcache.key_of(where, c.params) if hitcache.keepable(query, facets) else None
        with self.engine.connect() as conn:
            meta = self._check_key(conn)
            self._plan_settings(conn, indexes=(tokens := positive_tokens(query)) != ([], []))
            df = self._frequencies(conn, *tokens)
            stats = self._statistics(query, meta, df) if sort == "relevance" else None
            if key is not None:
                kept = self._hits.current(conn, key, meta, tuple(tokens[0]), where, c)
                if kept is not None:
                    scores = hitcache.score(query, kept, *stats) if stats else 0.0
                    return hitcache.page(kept, scores, sort, page, per_page, facets)
            if stats:
                score = c.score(query, *stats)
                order = "score DESC, d.received DESC, d.record_id DESC"
            else:
                score = "0.0"
                order = "d.received ASC, d.record_id ASC" if sort == "oldest" else "d.received DESC, d.record_id DESC"
            limit, offset = c.bind(per_page), c.bind((page - 1) * per_page)
            found = self._page_and_facets(conn, c, where, score, order, limit, offset, facets,
                                          most=most_hits(query, *df, int(meta.get("documents", 0))),
                                          shown=((page - 1) * per_page, per_page), ranked=bool(stats and tokens[0]))
        if key is not None and found.total >= hitcache.MIN_HITS:
            self._hits.asked(key)
        return found

    @staticmethod
    def _plan_settings(conn, *, indexes: bool) -> None:
        """For this transaction: no statement compiled to machine code (``jit``). Among
        1,000,000 letters a search's plans cost above ``jit_above_cost``, and each process
        compiled the expressions of every partition afresh: 747 functions, 0.9 to 1.3 s of a
        1.2 s statement, which took 0.7 s without (the benchmark's first 30 queries with
        facets, p95 1,451 -> 753 ms); the read of a query's kept hits (``hitcache``) and ``similar``
        alike.

        With ``indexes``, letters found through the GIN indexes, not by a scan of the
        table. The planner costs ``@@`` as cheap, not knowing that each letter's tsvector is
        read from TOAST (about 6 KB); a scan reads every letter's, while the index answers a
        single token without reading any (phrases: the candidates' only). 100,000 letters,
        120 queries alternating with the old plans: p95 -19 %, p50 -5 %. For the same reason
        operators are costed at 10× the default: otherwise, over a small partition, the
        planner filtered every row through its arrays (read from TOAST) rather than probe a
        GIN index (a number query 270 -> 15 ms over the 42 partitions of 100,000 letters)."""
        conn.execute(sql("SELECT set_config('jit', 'off', true)" + (
            ", set_config('enable_seqscan', 'off', true), set_config('cpu_operator_cost', '0.025', true)"
            if indexes else "")))

    @staticmethod
    def _statistics(query: Node, meta: dict[str, str], df: tuple[dict, dict]) -> tuple[dict, dict, float]:
        """What the BM25 score of ``query`` needs (``search.scoring``): each text token's
        and character's idf, from the live letters and each one's document frequency
        (``df``: ``_frequencies``), and the letters' mean length."""
        documents, length_sum = int(meta.get("documents", 0)), int(meta.get("length_sum", 0))
        text, chars = positive_tokens(query)
        df_text, df_chars = df
        idf_text = {t: scoring.idf(documents, df_text.get(t, 0)) for t in text}
        idf_chars = {t: scoring.idf(documents, df_chars.get(t, 0)) for t in chars}
        return idf_text, idf_chars, scoring.average_length(length_sum, documents)

    @staticmethod
    def _frequencies(conn, text: list[str], chars: list[str]) -> tuple[dict[str, int], dict[str, int]]:
        """How many live letters hold each text token and each character: read from
        ``TERMS`` (one statement, an index probe per term and year), not counted."""
        if not text and not chars:
            return {}, {}
        numbers = {term_number(t): ("t", t) for t in text} | {term_number(c, char=True): ("c", c) for c in chars}
        rows = conn.execute(sql(f"SELECT term, sum(documents) AS n FROM {TERMS} "
                                "WHERE term = ANY (CAST(:t AS bigint[])) GROUP BY term"),
                            {"t": list(numbers)}).all()
        found = {numbers[r.term]: int(r.n) for r in rows}
        return ({t: found.get(("t", t), 0) for t in text}, {c: found.get(("c", c), 0) for c in chars})

    @staticmethod
    def _page_and_facets(conn, c: Compiled, where: str, score: str, order: str, limit: str, offset: str,
                         facets: tuple[str, ...], *, most: int, shown: tuple[int, int] = (0, 20),
                         ranked: bool = False) -> HitPage:
        """The page (``shown``: the hits before it and its size), the total and the facet
        counts in one statement (the total is that of the page): ``compile.one_pass``; for a
        query with facets that can match ``SPLIT_FROM`` letters or more (``most``:
        ``compile.most_hits``), ``compile.two_parts``; but for one ``ranked`` (by relevance,
        with text tokens to score: without, every hit scores the same and the order is the
        date's) that can match ``LEAD_FROM`` letters or more, whose page ends within
        ``LEAD_DEEPEST`` hits, ``compile.leading_pass`` (after the statement of its bound:
        ``_leading``).

        The hits are read and scored by PostgreSQL's parallel workers when the planner
        expects many; for that rows handed on by a worker are costed as free (at the
        default, 0.1 each, the planner kept most queries in one process: p95 106 against
        75 ms at 100,000 letters), and the hits are kept in memory (``HITS_IN_MEMORY``:
        75,000 of them went to a temporary file under the default 4 MB of ``work_mem``).
        A query that can match fewer than ``SERIAL_BELOW`` letters starts no worker.

        Each plan is made for the query's own tokens (``plan_cache_mode``): psycopg prepares
        a statement run five times on a connection, and every query of one shape is the
        same statement, so PostgreSQL would then switch to a generic plan that knows no
        token's selectivity (over the partitions some took 94 to 137 instead of 16 ms).
        ``_plan_settings`` has set the transaction's others (no ``jit``)."""
        conn.execute(sql(f"SELECT set_config('parallel_tuple_cost', '0', true), "
                         f"set_config('work_mem', '{HITS_IN_MEMORY}', true), "
                         "set_config('plan_cache_mode', 'force_custom_plan', true)"
                         + (", set_config('max_parallel_workers_per_gather', '0', true)" if most < SERIAL_BELOW else "")))
        rows = None
        if facets and ranked and most >= LEAD_FROM and sum(shown) <= LEAD_DEEPEST:
            rows = PostgresBackend._leading(conn, c, where, score, order, limit, offset, facets, shown)
        if rows is None:
            statement = two_parts if facets and most >= SPLIT_FROM else one_pass
            rows = conn.execute(sql(statement(c, TABLE, where, score, order, limit, offset, facets)), c.params).all()
        total = 0
        found: dict[str, dict[str, int]] = {f: {} for f in facets}
        for row in rows:
            if row.part == "count":
                if row.facet is None:
                    total = int(row.n or 0)
                else:
                    found[row.facet][row.value] = int(row.n)
        if not total:
            return HitPage(total=0, hits=[], facets={f: {} for f in facets})
        counts = {f: dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))) for f, v in found.items()}
        return HitPage(total=total, hits=hits(sorted((r for r in rows if r.part == "hit"), key=lambda r: r.rank)),
                       facets=counts)

    @staticmethod
    def _leading(conn, c: Compiled, where: str, score: str, order: str, limit: str, offset: str,
                 facets: tuple[str, ...], shown: tuple[int, int]) -> list | None:
        """The rows of ``compile.leading_pass``, its bound read first (``leading_bound``);
        None when there is no hit to take a bound from, or when fewer hits led than the page
        needs (letters changed between the two statements), so that the statement the query
        would have had without it answers (``two_parts`` or ``one_pass``)."""
        at = conn.execute(sql(leading_bound(c, TABLE, where, score, order, limit, offset)), c.params).first()
        if at is None:
            return None
        bound = (c.bind(float(at.score)), c.bind(int(at.received)), c.bind(int(at.record_id)))
        rows = conn.execute(sql(leading_pass(c, TABLE, where, score, order, limit, offset, facets, bound)),
                            c.params).all()
        total = next((int(r.n or 0) for r in rows if r.part == "count" and r.facet is None), 0)
        before, size = shown
        return rows if sum(r.part == "hit" for r in rows) >= min(size, max(0, total - before)) else None

    def similar(self, weighted: dict[str, float], access: Access, *, exclude_uid: str | None = None,
                limit: int = 10) -> list[Hit]:
        """Documents holding any of the weighted tokens; a document's score is the weight of
        the tokens it holds, ``overlap`` that weight's share of the total. Each token's
        documents come from the GIN index (one bitmap scan per token, no document read)."""
        if not weighted or access.is_empty:
            return []
        tokens = list(weighted)
        total = sum(weighted.values()) or 1.0
        c = Compiled()
        cond = " AND ".join(["d.\"text\" @@ q.tq", *c.access(access, exclude_uid)])
        params = c.params | {"toks": tokens, "ws": [float(weighted[t]) for t in tokens],
                             "tqs": [quoted(t) for t in tokens], "lim": int(limit)}
        with self.engine.connect() as conn:
            self._check_key(conn)
            self._plan_settings(conn, indexes=False)
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
            counts, _ = self._frequencies(conn, tokens, [])
        return {t: counts.get(t, 0) for t in tokens}

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
            row = conn.execute(sql(   # summed over the partitions (the partitioned table has no storage)
                f"SELECT (SELECT count(*) FROM {TABLE}) AS documents, "
                "COALESCE(sum(pg_total_relation_size(c.oid)), 0) AS bytes, "
                "COALESCE(sum(pg_relation_size(c.oid)), 0) AS table_bytes, "
                "COALESCE(sum(pg_indexes_size(c.oid)), 0) AS index_bytes, "
                "COALESCE(sum(pg_total_relation_size(NULLIF(c.reltoastrelid, 0))), 0) AS toast_bytes, "
                "COALESCE(sum(s.n_dead_tup), 0) AS dead_rows, count(*) FILTER (WHERE t.isleaf) AS partitions "
                "FROM pg_partition_tree(CAST(:t AS regclass)) t JOIN pg_class c ON c.oid = t.relid "
                "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE t.isleaf"),
                {"t": TABLE}).mappings().one()
        return {"backend": "postgresql", "table": TABLE, "key_id": self.key_id, **{k: int(v) for k, v in row.items()},
                "limits": {"max_position": MAX_POSITION, "max_positions_per_term": MAX_POSITIONS_PER_TERM}}

    # -- rebuilding ------------------------------------------------------------------------------
    def bulk_loader(self) -> BulkLoader:
        return PgBulkLoader(self)
