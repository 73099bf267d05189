"""A backend-neutral query tree as SQL over ``search_documents d``: the condition, and the
score of ``search.scoring`` (BM25) as an expression, with every value a bound parameter."""
from __future__ import annotations

from ..interface import META_FIELDS, Access, And, CharTerm, Everything, Hit, Match, Node, Not, Or, Phrase, Range, TextTerm
from .. import scoring
from .schema import (
    INT_FIELDS, RUN_LENGTHS, SEPARATOR, check_token, pair_number, run_number, token_number, triple_number,
    tsquery_literal,
)

#: A token's occurrences in a letter that holds it: its count among the tokens the letter holds
#: more than once (``schema.repeated``), else 1. Read from the row: no ``tsvector`` read
#: from TOAST to score a hit (before, ``ts_rank`` of each scored token read the letter's whole
#: ``tsvector``, once per token and hit). Computed once per letter (``Compiled.rows``).
#: The tokens are kept in ascending order, so ``width_bucket`` finds the token's place by
#: bisection (its index, or that of the next smaller one, or 0); ``array_position`` compared
#: it with every one of them, about 27 a letter: among 1,000,000 letters, a number of four
#: tokens with 86,915 hits in one partition, the page's part 210 -> 153 ms in one process,
#: the same rows and scores.
_TF = ("CASE WHEN d.repeated_tokens[width_bucket(CAST({number} AS bigint), d.repeated_tokens)] = CAST({number} AS bigint) "
       "THEN d.repeated_counts[width_bucket(CAST({number} AS bigint), d.repeated_tokens)] ELSE 1 END")


def positive_tokens(node: Node, positive: bool = True, text: list | None = None,
                    chars: list | None = None) -> tuple[list[str], list[str]]:
    """The blind text tokens and characters a query scores (those outside a NOT)."""
    text = [] if text is None else text
    chars = [] if chars is None else chars
    if isinstance(node, TextTerm) and positive:
        text.append(node.token)
    elif isinstance(node, Phrase) and positive:
        text.extend(node.tokens)
    elif isinstance(node, CharTerm) and positive:
        chars.append(node.token)
    elif isinstance(node, (And, Or)):
        for item in node.items:
            positive_tokens(item, positive, text, chars)
    elif isinstance(node, Not):
        positive_tokens(node.item, not positive, text, chars)
    return list(dict.fromkeys(text)), list(dict.fromkeys(chars))


#: A query that can match fewer letters than this (``most_hits``) is answered in one process
#: (``backend._page_and_facets``): a parallel worker opens every partition and its indexes
#: afresh, and for a rare name among 1,000,000 letters, which the planner expected in
#: thousands of letters (the columns' statistics know the common pairs of tokens only),
#: that took 20 of the statement's 21 ms; in one process it took 1.3 ms.
SERIAL_BELOW = 5000

#: A query with facets that can match this many letters or more (``most_hits``) is answered
#: by ``two_parts`` (unless ``leading_pass`` answers it, below), not ``one_pass``: the
#: leader's work there grows with the hits and is not shared, while ``two_parts`` reads each
#: hit twice, once per part, and shares both reads among the workers. Among 1,000,000
#: letters (2 cores, the same 100 queries, each both ways) it was the faster from about
#: 160,000 hits on (244,777 hits: 504 -> 464 ms; 934,953: 1,475 -> 1,077 ms) and the slower
#: below (100,779: 275 -> 327 ms; among 100,000 letters every query, up to 62,902 hits, was
#: 2 to 25 ms slower).
SPLIT_FROM = 200_000

#: A query with facets that can match this many letters or more, ranked by relevance with
#: text tokens to score, for a page that ends within ``LEAD_DEEPEST`` hits, is answered by
#: ``leading_pass`` (``PostgresBackend._page_and_facets``). Among 1,000,000 letters, each
#: of the 100 queries both ways (the sum of the queries' times): against ``one_pass``, 5,000
#: to 50,000 hits 1,985 -> 2,235 ms (its sample is then a large share of the hits, and the
#: planner gives the sample workers of its own), 50,000 to 120,000 830 -> 826 ms, 120,000
#: to 200,000 2,902 -> 2,571 ms, from 200,000 on 27.5 -> 20.2 s; against ``two_parts`` from
#: 200,000 on, see ``leading_pass``.
LEAD_FROM = 120_000
#: The deepest page ``leading_pass`` serves (``offset + limit`` hits): its bound is the
#: ``offset + limit``-th of its sample, so a deeper page makes more hits lead.
LEAD_DEEPEST = 200
#: The hits ``leading_pass`` takes its bound from.
SAMPLE = 3000


def most_hits(node: Node, df_text: dict[str, int], df_chars: dict[str, int], documents: int) -> int:
    """At most how many letters ``node`` matches, from the letters holding each of its
    tokens (``df_text``, ``df_chars``: ``TERMS``, of the tokens outside a NOT) and the live
    letters (``documents``): a token's letters, a phrase's fewest, an AND's smallest part,
    an OR's parts summed, anything else every letter."""
    if isinstance(node, TextTerm):
        return df_text.get(node.token, documents)
    if isinstance(node, Phrase):
        return min((df_text.get(t, documents) for t in node.tokens), default=documents)
    if isinstance(node, CharTerm):
        return df_chars.get(node.token, documents)
    if isinstance(node, And):
        return min((most_hits(n, df_text, df_chars, documents) for n in node.items), default=documents)
    if isinstance(node, Or):
        return min(documents, sum(most_hits(n, df_text, df_chars, documents) for n in node.items))
    return documents


class Compiled:
    """Conditions and scores of one query with their bound parameters."""

    def __init__(self):
        self.params: dict = {}
        #: token -> the SQL expression of its occurrences in a letter (see ``rows``)
        self._tfs: dict[str, str] = {}
        #: the part of a BM25 term's denominator that is the letter's, not the token's (``_bm25``)
        self._norm: str | None = None

    def bind(self, value) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    # -- the condition ------------------------------------------------------------------------
    def where(self, node: Node) -> str:
        if isinstance(node, Everything):
            return "TRUE"
        if isinstance(node, Phrase) and len(node.tokens) > 1:
            return self._phrase(node.tokens)
        if isinstance(node, (TextTerm, Phrase)):
            tsq = tsquery_literal((node.token,) if isinstance(node, TextTerm) else node.tokens)
            return f'd."text" @@ CAST({self.bind(tsq)} AS tsquery)'
        if isinstance(node, CharTerm):
            return f"d.chars @> CAST({self.bind([check_token(node.token)])} AS text[])"
        if isinstance(node, Match):
            column = meta_column(node.field)
            value = int(node.value) if node.field in INT_FIELDS else str(node.value)
            return f"d.{column} = {self.bind(value)}"
        if isinstance(node, Range):
            column = meta_column(node.field)
            if node.field not in INT_FIELDS:
                raise TypeError(f"no range over {node.field!r}")
            parts = []
            if node.low is not None:
                parts.append(f"d.{column} >= {self.bind(int(node.low))}")
            if node.high is not None:
                parts.append(f"d.{column} <= {self.bind(int(node.high))}")
            return "(" + " AND ".join(parts) + ")" if parts else "TRUE"
        if isinstance(node, And):
            return "(" + " AND ".join(self.where(n) for n in node.items) + ")" if node.items else "TRUE"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.where(n) for n in node.items) + ")" if node.items else "FALSE"
        if isinstance(node, Not):
            return f"NOT {self.where(node.item)}"
        raise TypeError(f"unknown query node {node!r}")

    def _phrase(self, tokens: tuple[str, ...]) -> str:
        """Letters holding the tokens at consecutive positions. Two tokens (a substring of
        three characters) are exactly the letters holding their pair (``schema.pairs``),
        three (four characters) those holding their triple (``schema.triples``), four or five
        (five or six characters) those holding their run (``schema.runs``): a GIN index
        answers each with no letter read. A longer phrase's candidates are the letters
        holding all its runs of five tokens, and each candidate's positions are confirmed
        from its ``tsvector``, as a condition on the row (``IS TRUE`` keeps the planner from
        also intersecting the text index's much wider bitmaps of each token)."""
        if len(tokens) == 2:
            return f"d.pairs @> CAST({self.bind([pair_number(*tokens)])} AS bigint[])"
        if len(tokens) == 3:
            return f"d.triples @> CAST({self.bind([triple_number(*tokens)])} AS bigint[])"
        longest = max(RUN_LENGTHS)
        if len(tokens) <= longest:
            return f"d.runs @> CAST({self.bind([run_number(tokens)])} AS bigint[])"
        numbers = sorted({run_number(tokens[i:i + longest]) for i in range(len(tokens) - longest + 1)})
        found = f"d.runs @> CAST({self.bind(numbers)} AS bigint[])"
        return f'({found} AND (d."text" @@ CAST({self.bind(tsquery_literal(tokens))} AS tsquery)) IS TRUE)'

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

    # -- the score (search.scoring), for a letter the node matches -------------------------------
    def score(self, node: Node, idf_text: dict[str, float], idf_chars: dict[str, float], avg: float) -> str:
        """The same operations, in the same order, as the Whoosh backend's array search."""
        if isinstance(node, TextTerm):
            return self._bm25(node.token, idf_text, avg)
        if isinstance(node, Phrase):
            return "(" + " + ".join(self._bm25(t, idf_text, avg) for t in node.tokens) + ")"
        if isinstance(node, CharTerm):
            return f"CAST({self.bind(idf_chars[node.token])} AS float8)"
        if isinstance(node, (Everything, Match, Range, Not)):
            return "CAST(1.0 AS float8)"
        if isinstance(node, And):
            return "(" + " + ".join(self.score(n, idf_text, idf_chars, avg) for n in node.items) + ")"
        if isinstance(node, Or):
            return "(" + " + ".join(
                f"CASE WHEN {self.where(n)} THEN {self.score(n, idf_text, idf_chars, avg)} ELSE 0.0 END"
                for n in node.items) + ")"
        raise TypeError(f"unknown query node {node!r}")

    def rows(self, table: str, where: str) -> str:
        """The hits as a FROM item and its condition: ``table d`` where ``where`` holds, with
        the occurrences of each token the score reads as columns (``d.t0`` …), computed
        once per letter though a BM25 term uses them twice. The subquery is kept whole by
        its ``OFFSET '0'``: the planner does not fold the columns back into every use, and
        as the offset is a constant of type bigint (``OFFSET 0`` is an integer cast to one)
        it needs no Limit, so PostgreSQL may still share the hits among its parallel workers
        (a lateral join, as before, or ``OFFSET 0`` kept the statement in one process).

        The occurrences are doubles (a BM25 term multiplies and adds them to doubles, so each
        use converted the integer again), and ``d.norm`` is the length's part of every term's
        denominator, the same for all tokens of a letter (``_bm25``): the same doubles from
        the same operations in the same order, fewer of them a hit."""
        if not self._tfs:
            return f"{table} d WHERE {where}"
        columns = ", ".join([*(f"CAST({expr} AS float8) AS t{i}" for i, expr in enumerate(self._tfs.values())),
                             *([f"{self._norm} AS norm"] if self._norm else [])])
        return f"(SELECT d.*, {columns} FROM {table} d WHERE {where} OFFSET '0') d WHERE TRUE"

    def _tf(self, token: str) -> str:
        if token not in self._tfs:
            self._tfs[token] = _TF.format(number=self.bind(token_number(token)))
        return f"d.t{list(self._tfs).index(token)}"

    def _bm25(self, token: str, idf_text: dict[str, float], avg: float) -> str:
        """``idf · tf·(K1+1) / (tf + norm)`` with ``norm = K1·(1−B + B·dl/avgdl)`` (``d.norm``,
        one per letter: ``avg`` is the query's, the same for every token)."""
        tf = self._tf(token)
        if self._norm is None:
            k1, omb, b = self.bind(scoring.K1), self.bind(scoring.ONE_MINUS_B), self.bind(scoring.B)
            self._norm = (f"CAST({k1} AS float8) * (CAST({omb} AS float8) + CAST({b} AS float8) * d.length / "
                          f"CAST({self.bind(float(avg))} AS float8))")
        idf, k1p1 = self.bind(idf_text[token]), self.bind(scoring.K1_PLUS_1)
        return f"(CAST({idf} AS float8) * (({tf} * CAST({k1p1} AS float8)) / ({tf} + d.norm)))"


def literal(field: str) -> str:
    """A facet's name as a SQL string literal (facet names are checked column names)."""
    return "'" + meta_column(field) + "'"


def hits(rows) -> list[Hit]:
    return [Hit(uid=r.uid, record_id=r.record_id, serial=r.serial, score=float(r.score)) for r in rows]


def meta_column(field: str) -> str:
    if field not in META_FIELDS and field != "received":
        raise TypeError(f"unknown field {field!r}")
    return field


def one_pass(c: Compiled, table: str, where: str, score: str, order: str, limit: str, offset: str,
             facets: tuple[str, ...]) -> str:
    """The page, the total and the facet counts from one pass over the hits, in one
    statement: each hit is read and scored once (by PostgreSQL's parallel workers where the
    planner finds it worth it) and handed to the leader, which keeps them (``h``); the page
    is their first rows in ``order`` (a top-N sort: only ``offset + limit`` rows are kept in
    order) and the counts a grouping set per facet (the empty set gives the total). Rows:
    ``part`` 'hit' with ``rank``, or 'count' with ``facet`` (NULL: the total), ``value``, ``n``.
    Against the statement before it (a lateral join, the hits spilled to a file), on two
    cores, 100,000 letters, 300 queries with the five facets: p95 91 -> 60 ms."""
    columns = "".join(f", d.{f}" for f in facets if f not in ("uid", "record_id", "serial", "received"))
    return (f"WITH h AS MATERIALIZED (SELECT d.uid, d.record_id, d.serial, d.received{columns}, {score} AS score "
            f"FROM {c.rows(table, where)}) "
            f"SELECT 'hit' AS part, d.uid, d.record_id, d.serial, d.score, row_number() OVER (ORDER BY {order}) "
            f"AS rank, NULL AS facet, NULL AS value, NULL AS n "
            f"FROM (SELECT * FROM h d ORDER BY {order} LIMIT {limit} OFFSET {offset}) d "
            f"UNION ALL {_counts('h', facets, 'count(*)')} FROM h GROUP BY GROUPING SETS ({_sets('h', facets)})) g")


def two_parts(c: Compiled, table: str, where: str, score: str, order: str, limit: str, offset: str,
              facets: tuple[str, ...]) -> str:
    """The same rows as ``one_pass`` from two parts, each of which the workers do: the page
    (each worker scores its share of the hits and keeps its first ``offset + limit`` in
    ``order``; the leader merges them) and the counts (each worker counts its share per
    combination of the facets' values, which the leader adds up and then sums per facet).
    Each hit is found and read twice, and the counts read no score (``SPLIT_FROM``)."""
    columns = ", ".join(f"d.{meta_column(f)}" for f in facets)
    combos = (f"SELECT {columns}, count(*) AS n FROM {table} d WHERE {where} GROUP BY {columns}" if facets
              else f"SELECT count(*) AS n FROM {table} d WHERE {where}")
    return (f"SELECT 'hit' AS part, d.uid, d.record_id, d.serial, d.score, row_number() OVER (ORDER BY {order}) "
            f"AS rank, NULL AS facet, NULL AS value, NULL AS n FROM (SELECT d.uid, d.record_id, d.serial, "
            f"d.received, {score} AS score FROM {c.rows(table, where)} ORDER BY {order} LIMIT {limit} "
            f"OFFSET {offset}) d "
            f"UNION ALL {_counts('g', facets, 'sum(g.n)')} FROM ({combos}) g "
            f"GROUP BY GROUPING SETS ({_sets('g', facets)})) s")


def leading_bound(c: Compiled, table: str, where: str, score: str, order: str, limit: str, offset: str) -> str:
    """The bound of ``leading_pass``: of the first ``SAMPLE`` hits the plan comes to (a few
    thousand of one partition, each scored), the ``offset + limit``-th in ``order``, or the
    last if there are fewer (then they are every hit): its score, received time and record
    id. At least ``offset + limit`` hits of all (those of the sample) rank at or before it."""
    sample = f"SELECT d.received, d.record_id, {score} AS score FROM {c.rows(table, where)} LIMIT {SAMPLE}"
    return (f"SELECT d.score, d.received, d.record_id FROM (SELECT d.*, row_number() OVER (ORDER BY {order}) AS rn "
            f"FROM ({sample}) d) d WHERE d.rn <= {limit} + {offset} ORDER BY d.rn DESC LIMIT 1")


def leading_pass(c: Compiled, table: str, where: str, score: str, order: str, limit: str, offset: str,
                 facets: tuple[str, ...], bound: tuple[str, str, str]) -> str:
    """The same rows as ``one_pass`` for a query ranked by relevance, from one read of each
    hit, with the workers sending their leader a few thousand rows, not every hit. A hit
    ranked at or before ``bound`` (``leading_bound``: its score, received time and record
    id) leads. Each hit is read and scored once and counted by its facet values, and a
    leading hit also by its identity: the counts add up every group, and the page is the
    first of the leading hits, as at least ``offset + limit`` hits lead when the bound is
    read in the same snapshot (``PostgresBackend._leading`` checks the page and asks the
    statement of the query without it if letters changed in between).

    The groups are keyed by one text, the facet values and a leading hit's identity joined
    by ``schema.SEPARATOR`` (``schema.row_of`` refuses it in them): the planner, knowing
    nothing of how many distinct values it has, lets each worker count its own hits before
    the leader adds the groups up; keyed by the columns themselves (the uid's among them),
    it expected as many groups as hits and had the leader count every hit.

    Among 1,000,000 letters (2 cores) a query of 244,777 hits sent its leader 6,784 groups
    (2,261 a process), not every hit (``one_pass``), and read each hit once, not twice
    (``two_parts``): 570 -> 393 ms against ``two_parts``; the 46 of 100 queries of 200,000
    hits or more, each both ways, 25.7 -> 18.7 s in all (934,953 hits: 1,184 -> 849 ms), the
    same pages, scores, totals and counts."""
    own = ("uid", "record_id", "serial", "received")
    columns = "".join(f", d.{meta_column(f)}" for f in facets if f not in own)
    sep = f"chr({ord(SEPARATOR)})"   # a constant the planner folds
    key = f" || {sep} || ".join(f"CAST(d.{f} AS text)" for f in facets) or "''"
    identity = f" || {sep} || ".join(f"CAST(d.{x} AS text)" for x in own)
    at = f"ROW(CAST({bound[0]} AS float8), CAST({bound[1]} AS bigint), CAST({bound[2]} AS bigint))"
    marked = (f"SELECT {key} || CASE WHEN ROW(d.score, d.received, d.record_id) >= {at} "
              f"THEN {sep} || {identity} ELSE '' END AS key, d.score "
              f"FROM (SELECT d.uid, d.record_id, d.serial, d.received{columns}, {score} AS score "
              f"FROM {c.rows(table, where)} OFFSET '0') d OFFSET '0'")
    start = len(facets) or 1   # without facets the key starts with one empty field
    fields = [f"split_part(k.key, {sep}, {i + 1}) AS {f}" for i, f in enumerate(facets)]
    fields += [f"CAST(NULLIF(split_part(k.key, {sep}, {start + i + 1}), '') AS {kind}) AS h_{x}"
               for i, (x, kind) in enumerate(zip(own, ("text", "bigint", "text", "bigint")))]
    found = ", ".join(f"g.h_{x} AS {x}" for x in own)
    return (f"WITH g AS MATERIALIZED (SELECT {', '.join(fields)}, k.score AS h_score, k.n FROM ("
            f"SELECT d.key, count(*) AS n, max(d.score) AS score FROM ({marked}) d GROUP BY d.key) k) "
            f"SELECT 'hit' AS part, d.uid, d.record_id, d.serial, d.score, row_number() OVER (ORDER BY {order}) "
            f"AS rank, NULL AS facet, NULL AS value, NULL AS n FROM (SELECT * FROM (SELECT {found}, g.h_score AS score "
            f"FROM g WHERE g.h_uid IS NOT NULL) d ORDER BY {order} LIMIT {limit} OFFSET {offset}) d "
            f"UNION ALL {_counts('g', facets, 'sum(g.n)')} FROM g GROUP BY GROUPING SETS ({_sets('g', facets)})) s")


def _sets(alias: str, facets: tuple[str, ...]) -> str:
    return ", ".join([*(f"({alias}.{f})" for f in facets), "()"])


def _counts(alias: str, facets: tuple[str, ...], n: str) -> str:
    """The 'count' rows of a grouping set per facet over ``alias`` (the FROM and GROUP BY
    follow): which facet (``GROUPING``), its value as text, and ``n``."""
    groupings = "".join(f"GROUPING({alias}.{f}) AS g_{f}, " for f in facets)
    facet = f"CASE {' '.join(f'WHEN g_{f} = 0 THEN {literal(f)}' for f in facets)} END" if facets else "NULL"
    value = f"COALESCE({', '.join(f'CAST({alias}.{f} AS text)' for f in facets)})" if facets else "NULL"
    return (f"SELECT 'count', NULL, NULL, NULL, NULL, NULL, {facet}, value, n FROM ("
            f"SELECT {groupings}{value} AS value, {n} AS n")
