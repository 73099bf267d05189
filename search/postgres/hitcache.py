"""The hits a process keeps of queries asked again, kept in step with writes (issue 19).

A query of many hits costs PostgreSQL about a microsecond and a half a hit to read, score
and count, every time it is asked: 100 ms and more for a common word, over and over when
staff ask the same few words all day. So a process keeps, per query and access (the SQL
condition and its values), what scoring and counting need of every hit, in arrays:

- which letter (uid, record id, serial), its received time and length;
- the occurrences of each of the query's tokens (``compile._TF``);
- its five facet values, as codes.

The second time a query of at least ``MIN_HITS`` hits is asked, its hits are read once and
kept (``HitCache``). Each later search reads the letters changed since (the change log,
``schema.log_changes``) and re-reads just those rows under the same condition: a changed
letter that no longer matches leaves, one that matches comes in with its new values. The
BM25 statistics (live letters, mean length, each token's letters) are read as for any
search, so the scores, the order, the total and the facets are exactly those the SQL of
``PostgresBackend._page_and_facets`` gives: the same float operations in the same order
(``score``). When the log was trimmed past what a process last saw, letters were deleted,
or the table was rebuilt (``CHANGE_FLOOR``), or more than ``MAX_REFRESH`` letters changed,
the hits are read afresh.

Only what the arrays can score is kept: terms, phrases, characters, metadata matches and
ranges joined by AND (OR and NOT go to SQL every time), with facets among ``FACETS``.
Memory is bounded (``XINFANG_SEARCH_CACHE_MB``, least recently used first); the arrays
hold blind-token counts and clear metadata only, never text, and live in the process's
memory, never on disk. Entries are replaced, never changed, so threads share them freely.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import text as sql

from .. import scoring
from ..interface import FACETS, And, CharTerm, Everything, Hit, HitPage, Match, Node, Phrase, Range, TextTerm
from .compile import _TF, Compiled
from .schema import CHANGE_FLOOR, CHANGE_SEQ, SEPARATOR, TABLE, changed_since, token_number

#: Bytes of kept hits a process holds when it is not told (``XINFANG_SEARCH_CACHE_MB``).
DEFAULT_CACHE_BYTES = 96 * 1024 * 1024
#: A query is kept once it has this many hits (fewer are cheap to ask PostgreSQL again).
MIN_HITS = 2000
#: Changed letters brought up to date in place; more, and the hits are read afresh.
MAX_REFRESH = 1000
#: Queries remembered as asked once (the second asking keeps the hits).
SEEN = 4096


def keepable(node: Node, facets: tuple[str, ...]) -> bool:
    """Whether the hits of ``node`` can be scored from the arrays (no OR, no NOT)."""
    if not set(facets) <= set(FACETS):
        return False
    if isinstance(node, And):
        return all(keepable(item, facets) for item in node.items) and bool(node.items)
    return isinstance(node, (TextTerm, Phrase, CharTerm, Everything, Match, Range))


def key_of(where: str, params: dict) -> tuple:
    """The condition (with access) and its bound values: what a set of hits belongs to."""
    return (where, tuple((k, tuple(v) if isinstance(v, (list, tuple, set, frozenset)) else v)
                         for k, v in sorted(params.items())))


#: Separates the values of a text column in one ``string_agg`` (``schema.row_of`` refuses it
#: in a uid, serial or facet value).
_SEP = SEPARATOR


@dataclass(frozen=True)
class HitSet:
    """Every hit of one condition as of change number ``seq`` (one entry per hit)."""
    seq: int
    tokens: tuple[str, ...]          # the text tokens whose occurrences ``tf`` holds, in order
    uids: np.ndarray                 # bytes
    serials: np.ndarray              # bytes
    record_id: np.ndarray            # int64
    received: np.ndarray             # int64
    length: np.ndarray               # int32 (the quantised length)
    tf: np.ndarray                   # int16, one column per token
    codes: dict[str, np.ndarray]     # facet -> int32 code of each hit's value
    values: dict[str, tuple[str, ...]]   # facet -> the values the codes stand for

    @property
    def nbytes(self) -> int:
        arrays = (self.uids, self.serials, self.record_id, self.received, self.length, self.tf, *self.codes.values())
        return sum(a.nbytes for a in arrays) + 256

    @classmethod
    def of_row(cls, seq: int, tokens: tuple[str, ...], row, values: dict[str, tuple[str, ...]] | None = None
               ) -> HitSet:
        """From the one row of ``select_sql``; ``values`` continues an earlier set's codes."""
        n = int(row[0])
        if not n:
            return cls(seq=seq, tokens=tokens, uids=np.array([], dtype="S1"), serials=np.array([], dtype="S1"),
                       record_id=np.zeros(0, np.int64), received=np.zeros(0, np.int64), length=np.zeros(0, np.int32),
                       tf=np.zeros((0, len(tokens)), np.int16), codes={f: np.zeros(0, np.int32) for f in FACETS},
                       values={f: tuple((values or {}).get(f, ())) for f in FACETS})
        codes, kept = {}, {}
        for f, column in zip(FACETS, row[6:6 + len(FACETS)]):
            index = dict((v, i) for i, v in enumerate((values or {}).get(f, ())))
            if isinstance(column, list):   # a number (the year): coded by its distinct values
                distinct, inverse = np.unique(np.array(column, np.int64), return_inverse=True)
                codes[f] = np.array([index.setdefault(str(int(v)), len(index)) for v in distinct],
                                    np.int32)[inverse.reshape(-1)]
            else:
                found = column.split(_SEP)
                for v in dict.fromkeys(found):
                    index.setdefault(v, len(index))
                codes[f] = np.fromiter(map(index.__getitem__, found), np.int32, len(found))
            kept[f] = tuple(index)
        tf = np.empty((n, len(tokens)), np.int16)
        for j, column in enumerate(row[6 + len(FACETS):]):
            tf[:, j] = column
        out = cls(seq=seq, tokens=tokens, uids=np.array(row[1].encode().split(_SEP.encode())),
                  serials=np.array(row[2].encode().split(_SEP.encode())),
                  record_id=np.array(row[3], np.int64), received=np.array(row[4], np.int64),
                  length=np.array(row[5], np.int32), tf=tf, codes=codes, values=kept)
        if any(len(a) != n for a in (out.uids, out.serials, *out.codes.values())):
            raise ValueError("a value holds the separator")   # never kept: asked of the SQL instead
        return out

    def updated(self, seq: int, changed: list[str], row) -> HitSet:
        """This set at change ``seq``: the ``changed`` letters out, those of them that match
        now (``row``, of ``select_sql``) in."""
        gone = np.isin(self.uids, np.array([u.encode() for u in changed])) if changed else None
        new = HitSet.of_row(seq, self.tokens, row, self.values)
        keep = slice(None) if gone is None else ~gone

        def join(a, b):
            return np.concatenate([a[keep], b]) if len(b) else a[keep]
        return HitSet(seq=seq, tokens=self.tokens, uids=join(self.uids, new.uids),
                      serials=join(self.serials, new.serials), record_id=join(self.record_id, new.record_id),
                      received=join(self.received, new.received), length=join(self.length, new.length),
                      tf=join(self.tf, new.tf), codes={f: join(self.codes[f], new.codes[f]) for f in FACETS},
                      values=new.values)


def select_sql(tokens: tuple[str, ...], bind, table: str = TABLE) -> str:
    """One row holding what a ``HitSet`` keeps of every hit of ``table d`` (the condition
    follows): the count, then each column aggregated (in the same order for all: each
    aggregate takes the rows as they come), text as one string (``_SEP``), numbers as arrays.
    One row parses in C where 75,000 rows would take Python half a second."""
    sep = f"CAST({bind(_SEP)} AS text)"
    text_columns = ("uid", "serial", *(f for f in FACETS if f != "year"))
    columns = ["count(*)"] + [
        f"string_agg(d.{c}, {sep})" if c in text_columns else f"array_agg(d.{c})"
        for c in ("uid", "serial", "record_id", "received", "length", *FACETS)]
    columns += [f"array_agg({_TF.format(number=bind(token_number(t)))})" for t in tokens]
    return f"SELECT {', '.join(columns)} FROM {table} d WHERE "


# -- scoring, ordering and counting from the arrays (as ``compile.Compiled.score`` in SQL) ---------
def score(node: Node, hs: HitSet, idf_text: dict[str, float], idf_chars: dict[str, float], avg: float):
    """The BM25 score of each hit: ``Compiled.score``'s operations in its order (an array,
    or a float where every hit scores the same)."""
    if isinstance(node, TextTerm):
        return _bm25(node.token, hs, idf_text, avg)
    if isinstance(node, Phrase):
        return _sum(_bm25(t, hs, idf_text, avg) for t in node.tokens)
    if isinstance(node, CharTerm):
        return float(idf_chars[node.token])
    if isinstance(node, (Everything, Match, Range)):
        return 1.0
    if isinstance(node, And):
        return _sum(score(n, hs, idf_text, idf_chars, avg) for n in node.items)
    raise TypeError(f"not scored from kept hits: {node!r}")


def _sum(terms):
    total = None
    for t in terms:
        total = t if total is None else total + t
    return total


def _bm25(token: str, hs: HitSet, idf_text: dict[str, float], avg: float) -> np.ndarray:
    tf = hs.tf[:, hs.tokens.index(token)].astype(np.float64)
    length = hs.length.astype(np.float64)
    idf, k1p1, k1, omb, b = float(idf_text[token]), scoring.K1_PLUS_1, scoring.K1, scoring.ONE_MINUS_B, scoring.B
    return idf * ((tf * k1p1) / (tf + k1 * (omb + b * length / float(avg))))


def page(hs: HitSet, scores, sort: str, page_no: int, per_page: int, facets: tuple[str, ...]) -> HitPage:
    """The page, total and facet counts, as ``PostgresBackend._page_and_facets`` gives them."""
    n = len(hs.record_id)
    if not n:
        return HitPage(total=0, hits=[], facets={f: {} for f in facets})
    if sort == "relevance":
        scores = np.broadcast_to(np.asarray(scores, np.float64), (n,))
        order = np.lexsort((-hs.record_id, -hs.received, -scores))
    else:
        scores = np.zeros(n)
        order = (np.lexsort((hs.record_id, hs.received)) if sort == "oldest"
                 else np.lexsort((-hs.record_id, -hs.received)))
    start = (page_no - 1) * per_page
    chosen = order[start:start + per_page]
    hits = [Hit(uid=hs.uids[i].decode(), record_id=int(hs.record_id[i]), serial=hs.serials[i].decode(),
                score=float(scores[i])) for i in chosen]
    counts = {}
    for f in facets:
        got = np.bincount(hs.codes[f], minlength=len(hs.values[f]))
        found = {hs.values[f][i]: int(c) for i, c in enumerate(got) if c}
        counts[f] = dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))
    return HitPage(total=n, hits=hits, facets=counts)


# -- the process's store -------------------------------------------------------------------------
class HitCache:
    """Kept ``HitSet``s by ``key_of``, least recently used out beyond ``max_bytes``."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._sets: OrderedDict[tuple, HitSet] = OrderedDict()
        self._seen: OrderedDict[tuple, None] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def current(self, conn, key: tuple, meta: dict[str, str], tokens: tuple[str, ...], where: str,
                c: Compiled) -> HitSet | None:
        """The hits of ``key`` (condition ``where`` of ``c``) as of the change number in
        ``meta``, read before in this transaction: brought up to date or read afresh. None
        when not kept (asked once so far, too few hits, or no change numbers yet)."""
        if CHANGE_SEQ not in meta or self.max_bytes <= 0:
            return None
        upto, floor = int(meta[CHANGE_SEQ]), int(meta.get(CHANGE_FLOOR, "0"))
        with self._lock:
            hs = self._sets.get(key)
            if hs is not None:
                self._sets.move_to_end(key)
            asked = key in self._seen
        if hs is not None and hs.tokens == tokens and floor <= hs.seq <= upto:
            if hs.seq == upto:
                return hs
            changed = changed_since(conn, hs.seq, upto, MAX_REFRESH)
            if changed is not None:
                row: tuple = (0,)
                if changed:
                    statement = (select_sql(tokens, c.bind) + f"({where}) AND d.uid = ANY (CAST("
                                 f"{c.bind(changed)} AS text[]))")
                    row = conn.execute(sql(statement), c.params).one()
                try:
                    return self._keep(key, hs.updated(upto, changed, row))
                except ValueError:
                    self.forget(key)
                    return None
        elif hs is None and not asked:
            return None
        row = conn.execute(sql(select_sql(tokens, c.bind) + where), c.params).one()
        try:
            if row[0] >= MIN_HITS:
                return self._keep(key, HitSet.of_row(upto, tokens, row))
        except ValueError:
            pass
        self.forget(key)
        return None

    def asked(self, key: tuple) -> None:
        """Remember that ``key`` was asked (and had many hits): the next asking keeps them."""
        with self._lock:
            self._seen[key] = None
            self._seen.move_to_end(key)
            while len(self._seen) > SEEN:
                self._seen.popitem(last=False)

    def forget(self, key: tuple) -> None:
        with self._lock:
            hs = self._sets.pop(key, None)
            if hs is not None:
                self._bytes -= hs.nbytes
            self._seen.pop(key, None)

    def _keep(self, key: tuple, hs: HitSet) -> HitSet:
        with self._lock:
            old = self._sets.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            if hs.nbytes <= self.max_bytes:
                self._sets[key] = hs
                self._bytes += hs.nbytes
                while self._bytes > self.max_bytes:
                    _, out = self._sets.popitem(last=False)
                    self._bytes -= out.nbytes
        return hs

    def stats(self) -> dict:
        with self._lock:
            return {"queries": len(self._sets), "bytes": self._bytes, "max_bytes": self.max_bytes}
