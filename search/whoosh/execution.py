"""Queries over Whoosh segments, run on arrays.

Whoosh stores the index (segments, postings, columns); this module answers the backend's
query trees over it without Whoosh's matchers. Whoosh walks the matches one document at a
time in Python — a posting read, a length looked up and a BM25 score computed per match —
so a word found in half of 100,000 letters costs hundreds of milliseconds whatever page is
shown. Here each segment's postings are read once into arrays (document numbers and
weights), and a query is set and vector arithmetic over them.

What is kept between queries, in one byte-bounded cache shared by the threads of a process:

- a term's postings in a segment (document numbers, weights);
- the documents of a segment holding an exact phrase (found once from the positions);
- a segment's field lengths, sort columns and facet value codes;
- a segment's mask of live (not deleted) documents.

A segment never changes once written (a deletion only adds to its deleted set, which is part
of the key of the live mask), so nothing cached can go stale: a new letter lands in a new
segment, and only that segment is read. Statistics that change with every segment (live
document count, live document frequencies, mean length of the live documents) are summed
over the segments for each query. The hits are those of Whoosh's ``Searcher.search`` of the
same query (``tests/search/test_whoosh_exec.py``); the scores are ``search.scoring``'s BM25,
computed as the PostgreSQL backend computes them (same integers, same operations), so both
backends order a query's hits alike.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from whoosh import query as wq

from .. import scoring
from ..interface import And, CharTerm, Everything, Match, Node, Not, Or, Phrase, Range, TextTerm
from . import internals

#: Whoosh's BM25F defaults (``whoosh.scoring.BM25F``).
#: Fields held as numbers in columns (matched and sorted by value).
NUMERIC = ("year", "received")
#: Bytes of arrays a process keeps between queries.
DEFAULT_BUDGET = 96 * 1024 * 1024


class SegmentCache:
    """Arrays of segments, least recently used first out when over the byte budget. Shared
    by threads: two threads building the same entry at once both build it (the results are
    equal), and only the dictionary itself is locked."""

    def __init__(self, budget: int = DEFAULT_BUDGET):
        self.budget = budget
        self.size = 0
        self._items: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple, build: Callable[[], object]):
        with self._lock:
            got = self._items.get(key)
            if got is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return got[0]
            self.misses += 1
        value = build()
        size = _nbytes(value)
        with self._lock:
            if key not in self._items:
                self._items[key] = (value, size)
                self.size += size
                while self.size > self.budget and len(self._items) > 1:
                    _key, (_value, freed) = self._items.popitem(last=False)
                    self.size -= freed
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0


def _nbytes(value) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes + 112
    if isinstance(value, tuple | list):
        return sum(_nbytes(v) for v in value) + 64
    if isinstance(value, str):
        return len(value) + 50
    return 64


# -- reading a segment ---------------------------------------------------------------------
_EMPTY_IDS = np.zeros(0, dtype=np.int32)


def holders(terms, schema, field: str, term: str) -> list[int]:
    """Document numbers of a segment (``terms``: its terms reader) holding ``field:term``,
    deleted ones included."""
    return internals.raw_postings(terms, schema, field, term)[0].tolist()


class Leaf:
    """One segment during one query: its reader, where its documents start in the
    searcher's numbering, and the shared cache."""

    __slots__ = ("cache", "n", "offset", "reader", "segid")

    def __init__(self, reader, offset: int, cache: SegmentCache):
        self.reader, self.offset, self.cache = reader, offset, cache
        self.n = reader.doc_count_all()
        self.segid = reader.segment().segment_id()

    def side(self, field: str):
        """The segment's side postings when they hold ``field`` (``sidecar``; None: read
        Whoosh's posting blocks)."""
        side = internals.side_postings(self.reader)
        return side if side is not None and side.covers(field) else None

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        def build():
            side = self.side(field)
            if side is not None:
                return side.postings(field, term)
            ids, weights, _ = internals.raw_postings(internals.terms_of(self.reader), self.reader.schema, field, term)
            return ids, weights
        return self.cache.get((self.segid, "p", field, term), build)

    def term_frequency(self, field: str, term: str) -> int:
        """How many documents of the segment hold ``field:term``, deleted ones included
        (from the side postings' table or the term's entry: no posting read)."""
        side = self.side(field)
        if side is not None:
            return side.doc_frequency(field, term)
        return internals.doc_frequency(internals.terms_of(self.reader), self.reader.schema, field, term)

    def doc_frequency(self, field: str, term: str) -> int:
        """How many live documents of the segment hold ``field:term``: from the term's entry
        when none is deleted (no posting read), else counted from its postings."""
        live = self.live()
        if live is None:
            return self.cache.get((self.segid, "df", field, term), lambda: self.term_frequency(field, term))
        return int(np.count_nonzero(live[self.postings(field, term)[0]]))

    def holds(self, field: str, term: str, docnum: int) -> bool:
        """Whether document ``docnum`` of the segment holds ``field:term``."""
        ids = self.postings(field, term)[0]
        at = int(np.searchsorted(ids, docnum))
        return at < len(ids) and int(ids[at]) == docnum

    def term_mask(self, field: str, term: str) -> np.ndarray:
        def build():
            mask = np.zeros(self.n, dtype=bool)
            mask[self.postings(field, term)[0]] = True
            return mask
        return self.cache.get((self.segid, "m", field, term), build)

    def lengths(self, field: str) -> np.ndarray:
        def build():
            table = internals.length_table(self.reader, field)
            if table is None:
                return np.zeros(self.n, dtype=np.float64)
            out = np.fromiter((x or 0 for x in table), dtype=np.float64, count=len(table))
            return np.pad(out, (0, max(0, self.n - len(out))))[:self.n]
        return self.cache.get((self.segid, "len", field), build)

    def length_sum(self, field: str) -> int:
        """The sum of the live documents' lengths of ``field`` (for the mean length)."""
        live = self.live()
        deleted = self.reader.segment().deleted_count()

        def build():
            lengths = self.lengths(field)
            return int(lengths.sum() if live is None else lengths[live].sum())
        return self.cache.get((self.segid, "lensum", field, deleted), build)

    def column(self, field: str) -> np.ndarray:
        return self.cache.get((self.segid, "col", field), lambda: np.fromiter(
            self.reader.column_reader(field, translate=True), dtype=np.int64, count=self.n))

    def codes(self, field: str) -> tuple[np.ndarray, list[str]]:
        """Each document's value of a facet field as a number, and the values by number."""
        def build():
            raw = [str(v) for v in self.reader.column_reader(field, translate=True)]
            values, codes = np.unique(np.asarray(raw, dtype=object).astype(str), return_inverse=True)
            return codes.astype(np.int32).reshape(-1), [str(v) for v in values]
        return self.cache.get((self.segid, "codes", field), build)

    def live(self) -> np.ndarray | None:
        """Mask of documents not deleted (None: none are)."""
        deleted = self.reader.segment().deleted_count()
        if not deleted:
            return None

        def build():
            mask = np.ones(self.n, dtype=bool)
            mask[internals.deleted_docs(self.reader)] = False
            return mask
        return self.cache.get((self.segid, "live", deleted), build)

    def phrase(self, tokens: tuple[str, ...]) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Documents with the tokens at consecutive positions (an exact substring): a start
        ``p`` with token ``i`` at ``p + i`` for every ``i``; and each token's weight in them
        (for their scores). The tokens are taken rarest first (their document frequency is in
        the term's entry): the first one's documents are the candidates, and of each next
        token only the positions of its postings in the candidates are read (from the side
        postings, ``sidecar``, as array slices; from a segment written before them, only the
        posting blocks that can hold a candidate) and compared as arrays; a candidate is
        dropped as soon as no start is left. A phrase of a rare and a common pair (a ticket
        number) so reads a few positions of the common one instead of all of them."""
        return self.cache.get((self.segid, "ph", tokens), lambda: self._phrase(tokens))

    def _phrase(self, tokens: tuple[str, ...]) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        read = self._side_reading() if self.side("text") is not None else self._block_reading()
        order = sorted(range(len(tokens)), key=lambda i: (self.term_frequency("text", tokens[i]), i))
        candidates: np.ndarray | None = None
        starts = None
        got_of: dict[str, tuple] = {}   # a token repeated (``2020``: 20 02 20) is read once
        for offset in order:
            got = got_of.get(tokens[offset])
            if got is None:   # (read earlier, it holds every posting of the candidates left now)
                got = got_of[tokens[offset]] = read(tokens[offset], candidates)
            ids, _weights, positions_of = got
            if candidates is None:
                candidates, at = ids.astype(np.int64), np.arange(len(ids))
            else:
                at = np.minimum(np.searchsorted(ids, candidates), max(len(ids) - 1, 0))
                held = ids[at] == candidates if len(ids) else np.zeros(len(candidates), dtype=bool)
                candidates, at = candidates[held], at[held]
            if not len(candidates):
                return _EMPTY_IDS, ()
            counts, positions = positions_of(at)
            keys = np.repeat(candidates, counts) * _STRIDE + (positions - offset)
            keys = _ascending(keys[positions >= offset])
            starts = keys if starts is None else _common(starts, keys)
            candidates = _distinct(starts // _STRIDE)
            if not len(candidates):
                return _EMPTY_IDS, ()
        docs = candidates.astype(np.int32)
        weights_in = []
        for token in tokens:
            ids, weights, _positions_of = got_of[token]
            weights_in.append(weights[np.searchsorted(ids, docs)])
        return docs, tuple(weights_in)

    def _side_reading(self):
        """``read(token, candidates)`` for ``_phrase`` from the side postings: the token's
        document numbers and weights, and its positions in postings ``at`` of them."""
        side = self.side("text")

        def read(token: str, _candidates):
            ids, weights = side.postings("text", token)
            return ids, weights, lambda at: side.positions("text", token, at)
        return read

    def _block_reading(self):
        """``read`` for ``_phrase`` from Whoosh's posting blocks (a segment written before
        side postings): of a token after the first, only the blocks that can hold a
        candidate are read."""
        terms, schema = internals.terms_of(self.reader), self.reader.schema
        fmt = schema["text"].format

        def read(token: str, candidates):
            ids, weights, vals = internals.raw_postings(terms, schema, "text", token, values=True, want=candidates)
            return ids, weights, lambda at: internals.positions([vals[j] for j in at.tolist()], fmt)
        return read


#: Keys of (candidate, start) pairs: candidate * _STRIDE + start (positions stay far below).
_STRIDE = 1 << 32


def _ascending(keys: np.ndarray) -> np.ndarray:
    """``keys`` sorted without repeats: they come so (candidates ascending, each one's
    positions ascending), checked rather than sorted again."""
    if len(keys) < 2 or bool(np.all(keys[1:] > keys[:-1])):
        return keys
    return np.unique(keys)


def _common(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The values of ``a`` also in ``b`` (both ascending, without repeats), ascending."""
    if not len(a) or not len(b):
        return a[:0]
    at = np.minimum(np.searchsorted(b, a), len(b) - 1)
    return a[b[at] == a]


def _distinct(values: np.ndarray) -> np.ndarray:
    """``values`` (ascending) without repeats."""
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


# -- statistics of the whole searcher ------------------------------------------------------
class Stats:
    """The statistics of ``search.scoring`` over the live documents of every segment (the
    PostgreSQL backend counts the same): how many there are, how many hold a token, their
    mean length; memoised for one query."""

    def __init__(self, searcher, leaves_: list[Leaf] | None = None):
        self.searcher = searcher
        self.leaves = leaves_ if leaves_ is not None else []
        self.count = searcher.doc_count()
        self._idf: dict = {}
        self._avg: dict = {}

    def idf(self, field: str, term: str) -> float:
        key = (field, term)
        got = self._idf.get(key)
        if got is None:
            df = sum(leaf.doc_frequency(field, term) for leaf in self.leaves)
            got = self._idf[key] = scoring.idf(self.count, df)
        return got

    def avg_length(self, field: str) -> float:
        got = self._avg.get(field)
        if got is None:
            total = sum(leaf.length_sum(field) for leaf in self.leaves)
            got = self._avg[field] = scoring.average_length(total, self.count)
        return got


def bm25(leaf: Leaf, stats: Stats, field: str, term: str, docs: np.ndarray | None = None,
         weights: np.ndarray | None = None):
    """(documents, BM25F scores) of ``field:term`` in the segment (or of those of ``docs``,
    all of which hold the term; ``weights``: its weights in them, when known)."""
    if docs is None:
        ids, weights = leaf.postings(field, term)
    else:
        if weights is None:
            held, held_weights = leaf.postings(field, term)
            weights = held_weights[np.searchsorted(held, docs)]
        ids = docs
    weights = np.minimum(weights, scoring.MAX_TF)
    fl = leaf.lengths(field)[ids]
    avg = stats.avg_length(field)
    idf = stats.idf(field, term)
    # the operations of search.postgres.compile, in the same order (the same doubles)
    return ids, idf * ((weights * scoring.K1_PLUS_1) / (weights + scoring.K1 * (scoring.ONE_MINUS_B + scoring.B * fl / avg)))


# -- evaluating a query in one segment -------------------------------------------------------
def evaluate(node: Node, leaf: Leaf, stats: Stats) -> tuple[np.ndarray, np.ndarray]:
    """(mask of matching documents, their scores) of ``node`` in one segment; deleted
    documents and access are left to the caller. Scores add up as Whoosh's matchers add
    them: a text term scores BM25F, a phrase the sum of its terms, a metadata condition or a
    negation 1."""
    n = leaf.n
    if isinstance(node, CharTerm):   # one character: its idf (search.scoring)
        ids = leaf.postings("chars", node.token)[0]
        mask, score = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.float64)
        mask[ids] = True
        score[ids] = stats.idf("chars", node.token)
        return mask, score
    if isinstance(node, TextTerm) or (isinstance(node, Phrase) and len(node.tokens) == 1):
        token = node.tokens[0] if isinstance(node, Phrase) else node.token
        ids, scores = bm25(leaf, stats, "text", token)
        mask, score = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.float64)
        mask[ids] = True
        score[ids] = scores
        return mask, score
    if isinstance(node, Phrase):
        docs, weights = leaf.phrase(tuple(node.tokens))
        mask, score = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.float64)
        mask[docs] = True
        for token, held in zip(node.tokens, weights):
            score[docs] += bm25(leaf, stats, "text", token, docs, held)[1]
        return mask, score
    if isinstance(node, Everything):
        return np.ones(n, dtype=bool), np.ones(n, dtype=np.float64)
    if isinstance(node, Match):
        if node.field in NUMERIC:
            mask = leaf.column(node.field) == int(node.value)
        else:
            mask = leaf.term_mask(node.field, str(node.value))
        return mask, mask.astype(np.float64)
    if isinstance(node, Range):
        values = leaf.column(node.field)
        mask = np.ones(n, dtype=bool)
        if node.low is not None:
            mask &= values >= node.low
        if node.high is not None:
            mask &= values <= node.high
        return mask, mask.astype(np.float64)
    if isinstance(node, And | Or):
        parts = [evaluate(item, leaf, stats) for item in node.items]
        mask = parts[0][0].copy()
        for m, _s in parts[1:]:
            if isinstance(node, And):
                mask &= m
            else:
                mask |= m
        score = np.zeros(n, dtype=np.float64)
        for m, s in parts:
            score += np.where(m, s, 0.0)
        score[~mask] = 0.0
        return mask, score
    if isinstance(node, Not):
        mask = ~evaluate(node.item, leaf, stats)[0]
        return mask, mask.astype(np.float64)
    raise TypeError(f"unknown query node {node!r}")


@dataclass
class Matched:
    """Every match the access allows, over all segments: global document numbers (in
    searcher order) and their scores, and each segment with the document numbers of its
    matches within it (for facet counts and sort keys)."""

    docnums: np.ndarray
    scores: np.ndarray
    parts: list[tuple[Leaf, np.ndarray]]

    def top(self, limit: int, keys: np.ndarray | None = None, descending: bool = True) -> np.ndarray:
        """Positions of the first ``limit`` matches: highest score first (or by ``keys``,
        descending or not), ties by the date received, then the record id, in the same
        direction — the PostgreSQL backend's order (``search.scoring``)."""
        if keys is None:
            keys, descending = self.scores, True
        sign = -1 if descending else 1
        order_key = sign * keys
        if len(order_key) > limit > 0:
            kth = np.partition(order_key, limit - 1)[limit - 1]
            pick = np.nonzero(order_key <= kth)[0]
        else:
            pick = np.arange(len(order_key))
        received, record_id = sort_keys(self, "received")[pick], sort_keys(self, "record_id")[pick]
        ordered = pick[np.lexsort((sign * record_id, sign * received, order_key[pick]))]
        return ordered[:limit]


def leaves(searcher, cache: SegmentCache) -> list[Leaf]:
    return [Leaf(sub.reader(), offset, cache) for sub, offset in searcher.leaf_searchers()]


def run(leaves_: Iterable[Leaf], match: Callable[[Leaf], tuple[np.ndarray, np.ndarray]],
        allow: Callable[[Leaf], np.ndarray | None]) -> Matched:
    """Every segment's matches (``match`` gives a segment's mask and scores, ``evaluate``
    of a query or weighted terms), keeping the live documents ``allow`` lets through
    (``allow`` gives a segment's mask, or None: all of them)."""
    docnums, scores, parts = [], [], []
    for leaf in leaves_:
        mask, score = match(leaf)
        live = leaf.live()
        if live is not None:
            mask = mask & live
        allowed = allow(leaf)
        if allowed is not None:
            mask = mask & allowed
        local = np.nonzero(mask)[0]
        if len(local):
            docnums.append(local + leaf.offset)
            scores.append(score[local])
            parts.append((leaf, local))
    if not docnums:
        return Matched(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64), [])
    return Matched(np.concatenate(docnums).astype(np.int64), np.concatenate(scores), parts)


def weighted(terms: dict[str, float], leaf: Leaf, stats: Stats) -> tuple[np.ndarray, np.ndarray]:
    """(mask, scores) of documents holding any of the weighted text tokens: the sum of
    weight x BM25F of the tokens each holds (Whoosh's ``Or`` of boosted ``Term``s)."""
    mask, score = np.zeros(leaf.n, dtype=bool), np.zeros(leaf.n, dtype=np.float64)
    for token, weight in terms.items():
        ids, scores = bm25(leaf, stats, "text", token)
        mask[ids] = True
        score[ids] += weight * scores
    return mask, score


def facet_counts(matched: Matched, facets: tuple) -> dict[str, dict[str, int]]:
    """Counts of each value of each facet over the matches, most frequent first."""
    counts: dict[str, dict[str, int]] = {f: {} for f in facets}
    for leaf, local in matched.parts:
        for f in facets:
            codes, values = leaf.codes(f)
            into = counts[f]
            for code, n in enumerate(np.bincount(codes[local], minlength=len(values)).tolist()):
                if n:
                    into[values[code]] = into.get(values[code], 0) + n
    return {f: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for f, c in counts.items()}


def sort_keys(matched: Matched, field: str) -> np.ndarray:
    """The column ``field`` of every match (for sorting by it)."""
    parts = [leaf.column(field)[local] for leaf, local in matched.parts]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


# -- access --------------------------------------------------------------------------------
def access_mask(access, cache: SegmentCache, exclude_uid: str | None = None):
    """``allow`` for ``run``: a segment's mask of the documents ``access`` (an
    ``interface.Access``) lets through (None: all): holding one of the principals, and neither
    refused to the user, nor excluded by the database, nor ``exclude_uid``."""
    principals = tuple(sorted(access.principals)) if access.principals is not None else None
    masks = [("denied", d) for d in sorted(access.denied)]
    masks += [("uid", u) for u in sorted(access.excluded_uids | ({exclude_uid} if exclude_uid else set()))]

    def allowed_to(leaf: Leaf) -> np.ndarray:
        mask = np.zeros(leaf.n, dtype=bool)
        for p in principals:
            mask |= leaf.term_mask("allowed", p)
        return mask

    def allow(leaf: Leaf) -> np.ndarray | None:
        out = None
        if principals is not None:
            out = cache.get((leaf.segid, "allow", principals), lambda: allowed_to(leaf))
        for field, term in masks:
            ids = leaf.postings(field, term)[0]
            if len(ids):
                out = np.ones(leaf.n, dtype=bool) if out is None else out.copy()
                out[ids] = False
        return out
    return allow


# -- the reference: Whoosh's own query objects -------------------------------------------------
def to_whoosh(node: Node):
    """The query of a backend-neutral query tree as Whoosh's own query objects. Searches do
    not run through it (this module runs them on arrays); it is the reference they are
    tested against, and the plaintext Whoosh peer's query in the search benchmark."""
    if isinstance(node, Everything):
        return wq.Every()
    if isinstance(node, TextTerm):
        return wq.Term("text", node.token)
    if isinstance(node, Phrase):
        if len(node.tokens) == 1:
            return wq.Term("text", node.tokens[0])
        return wq.Phrase("text", list(node.tokens))
    if isinstance(node, CharTerm):
        return wq.Term("chars", node.token)
    if isinstance(node, Match):
        if node.field in ("year", "received"):
            return wq.NumericRange(node.field, int(node.value), int(node.value))
        return wq.Term(node.field, str(node.value))
    if isinstance(node, Range):
        return wq.NumericRange(node.field, node.low, node.high)
    if isinstance(node, And):
        return wq.And([to_whoosh(n) for n in node.items])
    if isinstance(node, Or):
        return wq.Or([to_whoosh(n) for n in node.items])
    if isinstance(node, Not):
        return wq.Not(to_whoosh(node.item))
    raise TypeError(f"unknown query node {node!r}")
