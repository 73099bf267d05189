"""The PostgreSQL backend's tables, the values written to them, and the one writer's lock."""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import re
import time
from collections.abc import Iterable, Iterator

from sqlalchemy import text as sql
from sqlalchemy.engine import Engine

from .. import scoring
from ..analysis import SCHEME
from ..interface import IndexDocument

TABLE = "search_documents"
META = "search_meta"
#: How many live letters of each part (``part_of``) hold each term (``term_number``): BM25's
#: document frequencies, kept in step with ``TABLE`` by its one writer, partitioned like it.
TERMS = "search_terms"
#: The tables a rebuild fills before they replace ``TABLE`` and ``TERMS`` (in one transaction).
NEW_TABLE = "search_documents_new"
NEW_TERMS = "search_terms_new"
#: The token scheme the table is built with (``search.analysis.SCHEME``), kept in ``META``.
FORMAT = str(SCHEME)

#: PostgreSQL's limits of a tsvector (``MAXENTRYPOS - 1`` and ``MAXNUMPOS``).
MAX_POSITION = 16383
MAX_POSITIONS_PER_TERM = 256

#: What a blind token looks like (``search.blind``: base64url of a truncated HMAC). Anything
#: else is refused before it gets near SQL.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
#: Joins a letter's uid, serial and text metadata into one text: a query's kept hits read
#: as one row (``hitcache``), the group keys of ``compile.leading_pass``. The writer refuses
#: it, and every other control character, in them (``_CONTROL_RE``, ``plain``).
SEPARATOR = "\x1f"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
#: Metadata columns a query may compare, with their types.
INT_FIELDS = ("year", "received")
COLUMNS = ("uid", "part", "record_id", "serial", "year", "status", "channel", "region", "category", "office",
            "received", "doc_version", "allowed", "denied", "text", "chars", "length", "repeated_tokens",
            "repeated_counts", "pairs", "triples", "runs")
#: Which letters each writing transaction changed, numbered in commit order (``log_changes``):
#: a process that keeps a query's hits (``search.postgres.hitcache``) reads the letters
#: changed since it last looked and brings those hits up to date, instead of reading them all.
CHANGES = "search_changes"
#: Rows per statement (drain) or per COPY (rebuild).
BATCH = 500
#: How long a purge waits for transactions that might still see the deleted rows (seconds).
PURGE_WAIT = 30.0
#: How long a purge waits for the table's lock before it gives up (searches hold it briefly).
PURGE_LOCK_TIMEOUT = "120s"
#: Memory a search may use to keep its hits for the page and the counts (``work_mem``, for
#: its transaction only): about 100 bytes a hit, so 600,000 hits before a temporary file.
HITS_IN_MEMORY = "64MB"
#: The advisory lock of the one index writer (a constant 64-bit key, per database).
WRITER_LOCK_KEY = int.from_bytes(hashlib.sha256(b"xinfang/search/writer").digest()[:8], "big", signed=True)


# -- the schema (the migration creates the same; a rebuild creates it under another name) ---------
#: The states a letter may still leave for "stored" (the letters a destruction may take,
#: ``records.cases.transitions``: a letter is stored from "registered" only, and leaves
#: "stored" only when it is destroyed). Computed from the workflow, not restated.
def _may_become_stored() -> frozenset[str]:
    from records.cases.transitions import TRANSITIONS

    sources = {s for t in TRANSITIONS.values() if t.target == "stored" for s in t.sources}
    return frozenset(sources - {"stored"})


INTAKE = _may_become_stored()


def part_of(status: str, year: int, region: str) -> str:
    """The partition a letter's row is written to (the ``part`` column):

    - ``s<year>_<region hash>``: a stored letter, in the partition of its destruction batch
      (the batch is a region's letters of a year; the region as the first 12 hex digits of
      its SHA-256, so the part is a plain name); a destruction deletes its rows there and
      rewrites that partition only, at a cost that follows the batch;
    - ``i<year>``: a letter that may still be stored (registered, awaiting its first
      decision: days, not years); when it is decided its row moves out, leaving a dead copy
      here, and the partition is marked (``MOVED``) for the next purge, whose cost is that
      of the letters still awaiting a decision;
    - ``y<year>``: every other letter: decided, never stored, never destroyed, so its
      updates' dead rows hold nothing a destruction must remove."""
    if status == "stored":
        return f"s{int(year)}_{hashlib.sha256(region.encode('utf-8')).hexdigest()[:12]}"
    return f"{'i' if status in INTAKE else 'y'}{int(year)}"


def destroyable(part: str) -> bool:
    """Whether the letters of ``part`` may yet be destroyed (stored, or awaiting a decision)."""
    return not part.startswith("y")


def part_year(part: str) -> int:
    return int(part[1:].split("_", 1)[0])


def table_ddl(name: str, *, indexes: bool = True) -> list[str]:
    """CREATE statements of a documents table called ``name`` (and of its indexes): a table
    partitioned by ``part`` (``part_of``: one partition per year of decided letters, one per
    year of letters awaiting a decision, one per destruction batch of stored letters;
    ``partition_name``, created when its first letter is written: ``ensure_partitions``),
    so a destruction of a (region, year) batch rewrites the batch's rows and indexes, not
    a year's. The key is (uid, part), as PostgreSQL wants the partition key in it; a uid is
    still one row, as every writer deletes a letter's row of another part first (``MOVE``)."""
    out = [(
        f'CREATE TABLE {name} ('
        ' uid text NOT NULL, part text NOT NULL, record_id bigint NOT NULL, serial text NOT NULL,'
        ' year integer NOT NULL,'
        ' status text NOT NULL, channel text NOT NULL, region text NOT NULL, category text NOT NULL,'
        ' office text NOT NULL, received bigint NOT NULL, doc_version integer NOT NULL,'
        ' allowed text[] NOT NULL, denied text[] NOT NULL, "text" tsvector NOT NULL, chars text[] NOT NULL,'
        ' length integer NOT NULL DEFAULT 0,'
        " repeated_tokens bigint[] NOT NULL DEFAULT '{}', repeated_counts smallint[] NOT NULL DEFAULT '{}',"
        " pairs bigint[] NOT NULL DEFAULT '{}', triples bigint[] NOT NULL DEFAULT '{}',"
        " runs bigint[] NOT NULL DEFAULT '{}',"
        f' CONSTRAINT pk_{name} PRIMARY KEY (uid, part)) PARTITION BY LIST (part)'
    )]
    return out + (index_ddl(name) if indexes else [])


def partition_name(table: str, part: str) -> str:
    """The partition of ``table`` holding the letters of ``part`` (``part_of``):
    ``<table>_y2024``, ``<table>_i2024``, ``<table>_s2024_<region hash>``."""
    if not _PART_RE.match(part):
        raise ValueError(f"not a search partition: {part!r}")
    return f"{table}_{part}"


def partition_ddl(table: str, part: str) -> str:
    """CREATE statement of ``table``'s partition of ``part``."""
    return f"CREATE TABLE {partition_name(table, part)} PARTITION OF {table} FOR VALUES IN ('{part}')"


def ensure_partitions(conn, table: str, parts: Iterable[str]) -> None:
    """Create the partitions of ``parts`` that ``table`` does not have yet (the one writer
    calls this before it writes; a partition's first letter takes a short lock of the table)."""
    for part in sorted(set(parts)):
        name = partition_name(table, part)
        if conn.execute(sql("SELECT to_regclass(:t) IS NULL"), {"t": name}).scalar_one():
            conn.execute(sql(partition_ddl(table, part)))


_PART_RE = re.compile(r"(?:[iy][0-9]+|s[0-9]+_[0-9a-f]{12})\Z")
_BOUND_RE = re.compile(r"FOR VALUES IN \('([^']*)'\)\Z")


def partitions(conn, table: str) -> dict[str, str]:
    """part -> partition name, of the partitions ``table`` has."""
    rows = conn.execute(sql(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass)"), {"t": table}).all()
    out = {}
    for name, bound in rows:
        m = _BOUND_RE.match(bound or "")
        if m:
            out[m.group(1)] = name
    return out


def index_names(name: str) -> list[str]:
    return [f"ix_{name}_{suffix}" for suffix in ("text", "chars", "allowed", "received", "pairs", "triples",
                                                  "runs")]


def index_ddl(name: str) -> list[str]:
    """The indexes, made on the partitioned table: PostgreSQL makes each partition's own."""
    text_ix, chars_ix, allowed_ix, received_ix, pairs_ix, triples_ix, runs_ix = index_names(name)
    return [
        f'CREATE INDEX {text_ix} ON {name} USING gin ("text")',
        f"CREATE INDEX {chars_ix} ON {name} USING gin (chars)",
        f"CREATE INDEX {allowed_ix} ON {name} USING gin (allowed)",
        f"CREATE INDEX {received_ix} ON {name} (received)",
        f"CREATE INDEX {pairs_ix} ON {name} USING gin (pairs)",
        f"CREATE INDEX {triples_ix} ON {name} USING gin (triples)",
        f"CREATE INDEX {runs_ix} ON {name} USING gin (runs)",
    ]


def terms_ddl(name: str) -> str:
    """CREATE statement of a terms table called ``name``: (part, term) -> documents, one
    partition per part (``ensure_partitions``), the key (term, part) its only index."""
    return (f"CREATE TABLE {name} (part text NOT NULL, term bigint NOT NULL, documents integer NOT NULL, "
            f"CONSTRAINT pk_{name} PRIMARY KEY (term, part)) PARTITION BY LIST (part)")


META_DDL = f"CREATE TABLE {META} (name text NOT NULL, value text NOT NULL, CONSTRAINT pk_{META} PRIMARY KEY (name))"
#: ``META`` rows ``moved:<part>``: rows were deleted from that partition, or left it (a
#: letter decided, or its year or region corrected), so it holds dead copies of them until it
#: is next rewritten; a purge rewrites the partitions so marked, then forgets them. (A
#: decided letter's row leaving its year's partition does not mark it: that letter is never
#: destroyed, see ``destroyable``.)
MOVED = "moved:"


CHANGES_DDL = (f"CREATE TABLE {CHANGES} (seq bigint NOT NULL, uid text NOT NULL)",
               f"CREATE INDEX ix_{CHANGES}_seq ON {CHANGES} (seq)")
#: ``META`` rows of the change log: the number of the last writing transaction, and the
#: number up to which changes are no longer listed (trimmed, deleted letters, a rebuild).
CHANGE_SEQ, CHANGE_FLOOR = "change_seq", "change_floor"
#: The log keeps the changes of the last ``CHANGES_KEPT`` writing transactions; every
#: ``CHANGES_TRIM_EVERY``-th writer trims it.
CHANGES_KEPT = 4096
CHANGES_TRIM_EVERY = 256


def log_changes(conn, uids: Iterable[str], *, forget: bool = False) -> int:
    """Number this writing transaction (``CHANGE_SEQ`` + 1) and list the letters it wrote in
    ``CHANGES``; call it last, in the writer's transaction. The number's row stays locked
    until the commit, so a second writer waits for it: numbers follow the commits, and a
    reader that sees number n sees every change up to n. With ``forget`` (letters deleted)
    the letters are not listed and their earlier entries go: the log never keeps a deleted
    letter's uid, and ``CHANGE_FLOOR`` moves to this number, so every process reads its hits
    afresh. Returns the number."""
    uids = sorted(set(uids))
    seq = int(conn.execute(sql(
        f"INSERT INTO {META} AS m (name, value) VALUES ('{CHANGE_SEQ}', '1') ON CONFLICT (name) DO UPDATE "
        "SET value = CAST(CAST(m.value AS bigint) + 1 AS text) RETURNING CAST(value AS bigint)")).scalar_one())
    floor = None
    if forget:
        conn.execute(sql(f"DELETE FROM {CHANGES} WHERE uid = ANY (CAST(:u AS text[]))"), {"u": uids})
        floor = seq
    else:
        conn.execute(sql(f"INSERT INTO {CHANGES} (seq, uid) SELECT :s, u FROM unnest(CAST(:u AS text[])) AS u"),
                     {"s": seq, "u": uids})
        if seq % CHANGES_TRIM_EVERY == 0:
            floor = seq - CHANGES_KEPT
            conn.execute(sql(f"DELETE FROM {CHANGES} WHERE seq <= :f"), {"f": floor})
    if floor is not None and floor > 0:
        conn.execute(sql(
            f"INSERT INTO {META} AS m (name, value) VALUES ('{CHANGE_FLOOR}', :f) ON CONFLICT (name) DO UPDATE "
            "SET value = CAST(GREATEST(CAST(m.value AS bigint), CAST(EXCLUDED.value AS bigint)) AS text)"),
            {"f": str(floor)})
    return seq


def changed_since(conn, seq: int, upto: int, limit: int) -> list[str] | None:
    """The letters changed after number ``seq`` up to ``upto`` (``log_changes``), or None
    when more than ``limit`` were, or the log no longer lists them all (its floor, read in
    the same statement, so a writer trimming it meanwhile is seen with its deletions)."""
    floor, uids = conn.execute(sql(
        f"SELECT (SELECT CAST(value AS bigint) FROM {META} WHERE name = '{CHANGE_FLOOR}'), "
        f"ARRAY(SELECT DISTINCT uid FROM {CHANGES} WHERE seq > :a AND seq <= :b LIMIT :n)"),
        {"a": int(seq), "b": int(upto), "n": int(limit) + 1}).one()
    if (floor is not None and floor > seq) or len(uids) > limit:
        return None
    return list(uids)


def create_schema(conn) -> None:
    """Create the tables when they are missing (what the migration does; for a database
    that is not an instance's, e.g. the benchmark's)."""
    exists = conn.execute(sql("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE}).scalar_one()
    if not exists:
        for ddl in table_ddl(TABLE):
            conn.execute(sql(ddl))
    if not conn.execute(sql("SELECT to_regclass(:t) IS NOT NULL"), {"t": META}).scalar_one():
        conn.execute(sql(META_DDL))
    if not conn.execute(sql("SELECT to_regclass(:t) IS NOT NULL"), {"t": TERMS}).scalar_one():
        conn.execute(sql(terms_ddl(TERMS)))
    if not conn.execute(sql("SELECT to_regclass(:t) IS NOT NULL"), {"t": CHANGES}).scalar_one():
        for ddl in CHANGES_DDL:
            conn.execute(sql(ddl))


# -- values ------------------------------------------------------------------------------------------
def check_token(token: str) -> str:
    if not isinstance(token, str) or not _TOKEN_RE.match(token):
        raise TypeError("the search index accepts blind tokens only, never text")
    return token


def tsvector_literal(tokens: list[str]) -> str:
    """The ``tsvector`` of a document's blind tokens (``kept_positions``)."""
    return positions_literal(kept_positions(tokens))


def positions_literal(positions: dict[str, list[int]]) -> str:
    return " ".join(f"'{tok}':{','.join(map(str, pos))}" for tok, pos in positions.items())


def kept_positions(tokens: list[str]) -> dict[str, list[int]]:
    """Each blind token's positions in a document (position = index + 1) as its ``tsvector``
    keeps them, within PostgreSQL's limits: positions past ``MAX_POSITION`` are dropped
    except a term's first (kept at ``MAX_POSITION``, so the term is still found), at most
    ``MAX_POSITIONS_PER_TERM`` positions per term (the first ones)."""
    positions: dict[str, list[int]] = {}
    for i, tok in enumerate(tokens, 1):
        got = positions.get(tok)
        if got is None:
            positions[tok] = [min(i, MAX_POSITION)]
        elif i <= MAX_POSITION and len(got) < MAX_POSITIONS_PER_TERM:
            got.append(i)
    for tok in positions:
        check_token(tok)
    return positions


def token_number(token: str) -> int:
    """A blind token as a signed 64-bit number: the first 8 bytes of its SHA-256 (the
    migration computes the same in SQL: ``NUMBER_SQL``)."""
    return _number(check_token(token))


def pair_number(first: str, second: str) -> int:
    """Two blind tokens at consecutive positions as one signed 64-bit number (``pairs``)."""
    return run_number((first, second))


def triple_number(first: str, second: str, third: str) -> int:
    """Three blind tokens at consecutive positions as one signed 64-bit number (``triples``)."""
    return run_number((first, second, third))


#: The lengths of the runs of tokens at consecutive positions a row holds in ``runs``.
RUN_LENGTHS = (4, 5)


def run_number(tokens: Iterable[str]) -> int:
    """Tokens at consecutive positions as one signed 64-bit number (``runs``: of four or
    five; ``pair_number`` and ``triple_number``: of two and three)."""
    return _number(" ".join(check_token(t) for t in tokens))


def term_number(token: str, *, char: bool = False) -> int:
    """A term of ``TERMS``: a blind text token's ``token_number``, or a blind character's
    number (of ``'char '`` and its token: no text token holds a space)."""
    return _number(f"char {check_token(token)}" if char else check_token(token))


def terms(tokens: Iterable[str], chars: Iterable[str]) -> set[int]:
    """The terms (``term_number``) a letter counts once each in ``TERMS``: its distinct text
    tokens and its distinct characters (blind tokens, as its row holds them)."""
    return {term_number(t) for t in set(tokens)} | {term_number(c, char=True) for c in set(chars)}


def _number(value: str) -> int:
    return int.from_bytes(hashlib.sha256(value.encode("ascii")).digest()[:8], "big", signed=True)


#: ``token_number`` of the SQL text expression ``{}`` (``pair_number``: of ``a || ' ' || b``;
#: ``triple_number``: of ``a || ' ' || b || ' ' || c``).
NUMBER_SQL = "CAST(CAST(('x' || encode(substr(sha256(convert_to({}, 'UTF8')), 1, 8), 'hex')) AS bit(64)) AS bigint)"


#: Fills the terms table ``{terms}`` from the rows of ``{table}``: per part, the letters
#: holding each text token and each character (``term_number``, here in SQL: the token, or
#: ``'char '`` and the character's token, hashed by ``NUMBER_SQL``). Grouped by the token
#: first, so each distinct one is hashed once.
FILL_TERMS = (
    "INSERT INTO {{terms}} (part, term, documents) SELECT x.part, {number}, x.n "
    "FROM (SELECT d.part, l.tok, count(*) AS n FROM {{table}} d, unnest(tsvector_to_array(d.\"text\")) AS l(tok) "
    "GROUP BY d.part, l.tok UNION ALL "
    "SELECT d.part, 'char ' || c.tok, count(*) FROM {{table}} d, unnest(d.chars) AS c(tok) GROUP BY d.part, c.tok) x"
).format(number=NUMBER_SQL.format("x.tok"))


def _at(positions: dict[str, list[int]]) -> dict[int, list[str]]:
    """The tokens at each position the ``tsvector`` keeps (one, or several where positions
    past ``MAX_POSITION`` were folded onto it)."""
    at: dict[int, list[str]] = {}
    for tok, kept in positions.items():
        for p in kept:
            at.setdefault(p, []).append(tok)
    return at


def pairs(positions: dict[str, list[int]]) -> list[int]:
    """``pair_number`` of every two tokens at consecutive positions of a document, as its
    ``tsvector`` keeps them (ascending, once each). A phrase of two tokens (a substring of
    three characters) is in a letter exactly when their pair is, so the GIN index of the
    pairs answers it without reading any ``tsvector``."""
    at = _at(positions)
    return sorted({pair_number(a, b) for p, firsts in at.items() for a in firsts for b in at.get(p + 1, ())})


def triples(positions: dict[str, list[int]]) -> list[int]:
    """``triple_number`` of every three tokens at consecutive positions (ascending, once
    each). A phrase of three tokens (four characters: the commonest Chinese query) is in a
    letter exactly when its triple is, so the GIN index of the triples answers it with no
    ``tsvector`` read (longer phrases: ``runs``)."""
    at = _at(positions)
    return sorted({triple_number(a, b, c) for p, firsts in at.items() for a in firsts
                   for b in at.get(p + 1, ()) for c in at.get(p + 2, ())})


def runs(positions: dict[str, list[int]]) -> list[int]:
    """``run_number`` of every four and every five tokens at consecutive positions
    (``RUN_LENGTHS``; ascending, once each). A phrase of four or five tokens (five or six
    characters) is in a letter exactly when its run is, so the GIN index of the runs answers
    it with no ``tsvector`` read; a longer phrase's candidates are the letters holding all
    its runs of five, and only they have their positions confirmed. (The tokens were
    checked by ``kept_positions``.)"""
    at = _at(positions)
    one = {p: toks[0] for p, toks in at.items() if len(toks) == 1}
    if len(one) < len(at):   # several tokens at a position: only past MAX_POSITION
        return sorted({_number(" ".join(run)) for p in at for n in RUN_LENGTHS
                       if all(p + i in at for i in range(n))
                       for run in itertools.product(*(at[p + i] for i in range(n)))})
    out: set[int] = set()
    for p, a in one.items():   # the common case, written out: ~370 positions per letter
        b, c, d = one.get(p + 1), one.get(p + 2), one.get(p + 3)
        if b is None or c is None or d is None:
            continue
        four = f"{a} {b} {c} {d}"
        out.add(_number(four))
        e = one.get(p + 4)
        if e is not None:
            out.add(_number(f"{four} {e}"))
    return sorted(out)


def repeated(positions: dict[str, list[int]]) -> tuple[list[int], list[int]]:
    """The tokens a document holds more than once (``token_number``, ascending: ``compile._TF``
    finds one by bisection) and how many
    times (the positions its ``tsvector`` keeps): with them a hit's occurrences of a query
    token are read from the row itself (a token not among them occurs once), not from the
    ``tsvector`` out of line in TOAST. Most tokens of a letter occur once, so the arrays are
    short and stay in the row."""
    held = sorted((token_number(tok), len(pos)) for tok, pos in positions.items() if len(pos) > 1)
    return [n for n, _ in held], [c for _, c in held]


def quoted(token: str) -> str:
    return f"'{check_token(token)}'"


def tsquery_literal(tokens: Iterable[str]) -> str:
    """A phrase of blind tokens: ``'t1' <-> 't2' <-> …`` (one token: the term)."""
    return " <-> ".join(quoted(t) for t in tokens)


def plain(value: str, name: str) -> str:
    """``value`` (a letter's uid, serial or text metadata ``name``), refused if it holds a
    control character (``_CONTROL_RE``: ``SEPARATOR`` among them)."""
    if not isinstance(value, str) or _CONTROL_RE.search(value):
        raise ValueError(f"the search index refuses a {name} that is not text without control characters")
    return value


def row_of(doc: IndexDocument) -> dict:
    for name in ("uid", "serial", "status", "channel", "region", "category", "office"):
        plain(getattr(doc, name), name)
    positions = kept_positions(doc.text)
    numbers, counts = repeated(positions)
    return {
        "uid": doc.uid, "part": part_of(doc.status, doc.year, doc.region), "record_id": int(doc.record_id),
        "serial": doc.serial, "year": int(doc.year),
        "status": doc.status, "channel": doc.channel, "region": doc.region, "category": doc.category,
        "office": doc.office, "received": int(doc.received), "doc_version": int(doc.doc_version),
        "allowed": sorted(doc.allowed), "denied": sorted(doc.denied), "text": positions_literal(positions),
        "chars": sorted({check_token(c) for c in doc.chars}), "length": scoring.quantised_length(len(doc.text)),
        "repeated_tokens": numbers, "repeated_counts": counts, "pairs": pairs(positions),
        "triples": triples(positions), "runs": runs(positions),
    }


UPSERT = (
    f"INSERT INTO {TABLE} (uid, part, record_id, serial, year, status, channel, region, category, office, received,"
    ' doc_version, allowed, denied, "text", chars, length, repeated_tokens, repeated_counts, pairs, triples,'
    " runs) VALUES (:uid, :part, :record_id, :serial, :year, :status, :channel, :region, :category, :office,"
    " :received, :doc_version,"
    " CAST(:allowed AS text[]), CAST(:denied AS text[]),"
    " CAST(:text AS tsvector), CAST(:chars AS text[]), :length, CAST(:repeated_tokens AS bigint[]),"
    " CAST(:repeated_counts AS smallint[]), CAST(:pairs AS bigint[]), CAST(:triples AS bigint[]),"
    " CAST(:runs AS bigint[]))"
    " ON CONFLICT (uid, part) DO UPDATE SET "
    + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in COLUMNS if c not in ("uid", "part"))
)
#: Before an ``UPSERT``: the rows the letters being written have in another part (a letter
#: decided or stored, its received date or region corrected) are deleted, a part at a time
#: (the writer read which rows are where; naming the part keeps the statement to its
#: partition), and the part marked ``MOVED``.
MOVE = f"DELETE FROM {TABLE} WHERE part = :p AND uid = ANY (CAST(:u AS text[]))"


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
