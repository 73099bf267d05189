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
#: How many live letters of each year hold each term (``term_number``): BM25's document
#: frequencies, kept in step with ``TABLE`` by its one writer, partitioned by year like it.
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
#: Metadata columns a query may compare, with their types.
INT_FIELDS = ("year", "received")
COLUMNS = ("uid", "record_id", "serial", "year", "status", "channel", "region", "category", "office",
            "received", "doc_version", "allowed", "denied", "text", "chars", "length", "repeated_tokens",
            "repeated_counts", "pairs", "triples", "runs")
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
def table_ddl(name: str, *, indexes: bool = True) -> list[str]:
    """CREATE statements of a documents table called ``name`` (and of its indexes): a table
    partitioned by the letter's year (one partition per year, ``partition_name``, created
    when a letter of that year is first written: ``ensure_partitions``), so a destruction of
    a (region, year) batch rewrites one year's rows and indexes, not every year's. The key
    is (uid, year), as PostgreSQL wants the partition key in it; a uid is still one row,
    as every writer deletes a letter's row of another year first (``MOVE``)."""
    out = [(
        f'CREATE TABLE {name} ('
        ' uid text NOT NULL, record_id bigint NOT NULL, serial text NOT NULL, year integer NOT NULL,'
        ' status text NOT NULL, channel text NOT NULL, region text NOT NULL, category text NOT NULL,'
        ' office text NOT NULL, received bigint NOT NULL, doc_version integer NOT NULL,'
        ' allowed text[] NOT NULL, denied text[] NOT NULL, "text" tsvector NOT NULL, chars text[] NOT NULL,'
        ' length integer NOT NULL DEFAULT 0,'
        " repeated_tokens bigint[] NOT NULL DEFAULT '{}', repeated_counts smallint[] NOT NULL DEFAULT '{}',"
        " pairs bigint[] NOT NULL DEFAULT '{}', triples bigint[] NOT NULL DEFAULT '{}',"
        " runs bigint[] NOT NULL DEFAULT '{}',"
        f' CONSTRAINT pk_{name} PRIMARY KEY (uid, year)) PARTITION BY LIST (year)'
    )]
    return out + (index_ddl(name) if indexes else [])


def partition_name(table: str, year: int) -> str:
    """The partition of ``table`` holding the letters of ``year``."""
    return f"{table}_y{int(year)}"


def ensure_partitions(conn, table: str, years: Iterable[int]) -> None:
    """Create the partitions of ``years`` that ``table`` does not have yet (the one writer
    calls this before it writes; the first letter of a year takes a short lock of the table)."""
    for year in sorted({int(y) for y in years}):
        name = partition_name(table, year)
        if conn.execute(sql("SELECT to_regclass(:t) IS NULL"), {"t": name}).scalar_one():
            conn.execute(sql(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES IN ({int(year)})"))


def partitions(conn, table: str) -> dict[int, str]:
    """year -> partition name, of the partitions ``table`` has."""
    rows = conn.execute(sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:t AS regclass)"), {"t": table}).scalars().all()
    prefix = f"{table}_y"
    return {int(n[len(prefix):]): n for n in rows if n.startswith(prefix) and n[len(prefix):].lstrip("-").isdigit()}


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
    """CREATE statement of a terms table called ``name``: (year, term) -> documents, one
    partition per year (``ensure_partitions``), the key (term, year) its only index."""
    return (f"CREATE TABLE {name} (year integer NOT NULL, term bigint NOT NULL, documents integer NOT NULL, "
            f"CONSTRAINT pk_{name} PRIMARY KEY (term, year)) PARTITION BY LIST (year)")


META_DDL = f"CREATE TABLE {META} (name text NOT NULL, value text NOT NULL, CONSTRAINT pk_{META} PRIMARY KEY (name))"
#: ``META`` rows ``moved:<year>``: a letter's row left that year's partition (its year was
#: corrected), so the partition holds a dead copy of it until it is next rewritten; a purge
#: of any year rewrites these partitions too, then forgets them.
MOVED = "moved:"


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


#: Fills the terms table ``{terms}`` from the rows of ``{table}``: per year, the letters
#: holding each text token and each character (``term_number``, here in SQL: the token, or
#: ``'char '`` and the character's token, hashed by ``NUMBER_SQL``). Grouped by the token
#: first, so each distinct one is hashed once.
FILL_TERMS = (
    "INSERT INTO {{terms}} (year, term, documents) SELECT x.year, {number}, x.n "
    "FROM (SELECT d.year, l.tok, count(*) AS n FROM {{table}} d, unnest(tsvector_to_array(d.\"text\")) AS l(tok) "
    "GROUP BY d.year, l.tok UNION ALL "
    "SELECT d.year, 'char ' || c.tok, count(*) FROM {{table}} d, unnest(d.chars) AS c(tok) GROUP BY d.year, c.tok) x"
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
    """The tokens a document holds more than once (``token_number``, ascending) and how many
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


def row_of(doc: IndexDocument) -> dict:
    positions = kept_positions(doc.text)
    numbers, counts = repeated(positions)
    return {
        "uid": doc.uid, "record_id": int(doc.record_id), "serial": doc.serial, "year": int(doc.year),
        "status": doc.status, "channel": doc.channel, "region": doc.region, "category": doc.category,
        "office": doc.office, "received": int(doc.received), "doc_version": int(doc.doc_version),
        "allowed": sorted(doc.allowed), "denied": sorted(doc.denied), "text": positions_literal(positions),
        "chars": sorted({check_token(c) for c in doc.chars}), "length": scoring.quantised_length(len(doc.text)),
        "repeated_tokens": numbers, "repeated_counts": counts, "pairs": pairs(positions),
        "triples": triples(positions), "runs": runs(positions),
    }


UPSERT = (
    f"INSERT INTO {TABLE} (uid, record_id, serial, year, status, channel, region, category, office, received,"
    ' doc_version, allowed, denied, "text", chars, length, repeated_tokens, repeated_counts, pairs, triples,'
    " runs) VALUES (:uid, :record_id, :serial, :year, :status, :channel, :region, :category, :office, :received, :doc_version,"
    " CAST(:allowed AS text[]), CAST(:denied AS text[]),"
    " CAST(:text AS tsvector), CAST(:chars AS text[]), :length, CAST(:repeated_tokens AS bigint[]),"
    " CAST(:repeated_counts AS smallint[]), CAST(:pairs AS bigint[]), CAST(:triples AS bigint[]),"
    " CAST(:runs AS bigint[]))"
    " ON CONFLICT (uid, year) DO UPDATE SET "
    + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in COLUMNS if c not in ("uid", "year"))
)
#: Before an ``UPSERT``: the rows of the letters being written that are in another year's
#: partition (a corrected received date) are deleted; their length and year are returned.
MOVE = (
    f"DELETE FROM {TABLE} d USING unnest(CAST(:u AS text[]), CAST(:y AS integer[])) AS n(uid, year) "
    "WHERE d.uid = n.uid AND d.year <> n.year RETURNING d.year"
)


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


def wait_for_older_snapshots(conn, timeout: float) -> bool:
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
