"""search on PostgreSQL: partitions that follow a destruction batch (issue 19)

``search_documents`` and ``search_terms`` become partitioned by a ``part`` column instead
of the year (``search.postgres.schema.part_of``):

- ``s<year>_<region hash>``: the stored letters of one destruction batch (a region's letters
  of a year; the region as the first 12 hex digits of its SHA-256);
- ``i<year>``: the registered letters of a year, the only ones that may still be stored;
- ``y<year>``: every other letter of a year (decided, never destroyed).

A destruction then rewrites (``VACUUM FULL``) the batch's partition and the small one of
the letters awaiting a decision, not the whole year's, so its cost follows the batch. The
keys become (uid, part) and (term, part). The rows are copied (the token scheme does not
change: no reindex), the indexes built per partition, the terms counted again per part, and
the old tables dropped; the purge marks (``moved:``) are dropped with the old files.
Nothing to do on SQLite (Whoosh keeps its own shards). Written out here, not imported, so
this revision never changes.

Revision ID: 20261206_0018
Revises: 20261204_0017
Create Date: 2026-12-06 03:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '20261206_0018'
down_revision = '20261204_0017'
branch_labels = None
depends_on = None

COLUMNS = ('uid, record_id, serial, year, status, channel, region, category, office, received, doc_version, '
           'allowed, denied, "text", chars, length, repeated_tokens, repeated_counts, pairs, triples, runs')
BODY = (
    ' uid text NOT NULL, record_id bigint NOT NULL, serial text NOT NULL, year integer NOT NULL,'
    ' status text NOT NULL, channel text NOT NULL, region text NOT NULL, category text NOT NULL,'
    ' office text NOT NULL, received bigint NOT NULL, doc_version integer NOT NULL,'
    ' allowed text[] NOT NULL, denied text[] NOT NULL, "text" tsvector NOT NULL, chars text[] NOT NULL,'
    ' length integer NOT NULL DEFAULT 0,'
    " repeated_tokens bigint[] NOT NULL DEFAULT '{}', repeated_counts smallint[] NOT NULL DEFAULT '{}',"
    " pairs bigint[] NOT NULL DEFAULT '{}', triples bigint[] NOT NULL DEFAULT '{}',"
    " runs bigint[] NOT NULL DEFAULT '{}',"
)
INDEXES = (('text', 'USING gin ("text")'), ('chars', 'USING gin (chars)'), ('allowed', 'USING gin (allowed)'),
           ('received', '(received)'), ('pairs', 'USING gin (pairs)'), ('triples', 'USING gin (triples)'),
           ('runs', 'USING gin (runs)'))
PART = ("CASE WHEN status = 'stored' THEN 's' || year || '_' || "
        "substr(encode(sha256(convert_to(region, 'UTF8')), 'hex'), 1, 12) "
        "WHEN status = 'registered' THEN 'i' || year ELSE 'y' || year END")
NUMBER = "CAST(CAST(('x' || encode(substr(sha256(convert_to(x.tok, 'UTF8')), 1, 8), 'hex')) AS bit(64)) AS bigint)"


def _has_search_table() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.execute(
        sa.text("SELECT to_regclass('search_documents') IS NOT NULL")).scalar_one()


def _rows(query: str, **params) -> list:
    return op.get_bind().execute(sa.text(query), params).all()


def _set_aside(table: str) -> str:
    """``table``, its key, its indexes, its partitions and theirs renamed ``<table>_before``."""
    before = f"{table}_before"
    op.execute(f"ALTER TABLE {table} RENAME TO {before}")
    op.execute(f"ALTER TABLE {before} RENAME CONSTRAINT pk_{table} TO pk_{before}")
    for (index,) in _rows("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                          "WHERE i.indrelid = CAST(:t AS regclass) AND c.relname LIKE :p",
                          t=before, p=f"ix_{table}_%"):
        op.execute(f'ALTER INDEX "{index}" RENAME TO "ix_{before}{index[len("ix_" + table):]}"')
    for (part,) in _rows("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                         "WHERE i.inhparent = CAST(:t AS regclass)", t=before):
        new = f"{before}{part[len(table):]}" if part.startswith(table) else f"{part}_before"
        for (index,) in _rows("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                              "WHERE i.indrelid = CAST(:t AS regclass)", t=part):
            if index.startswith(part):
                op.execute(f'ALTER INDEX "{index}" RENAME TO "{new}{index[len(part):]}"')
        op.execute(f'ALTER TABLE "{part}" RENAME TO "{new}"')
    return before


def _convert(key: str, key_type: str, key_sql: str, name_of) -> None:
    """Both tables partitioned by ``key`` (computed by ``key_sql`` from a document row), the
    rows copied, the indexes built, the terms counted, the old tables dropped."""
    docs_before, terms_before = _set_aside("search_documents"), _set_aside("search_terms")
    body = BODY if key == "year" else f" part text NOT NULL,{BODY}"
    op.execute(f"CREATE TABLE search_documents ({body} CONSTRAINT pk_search_documents PRIMARY KEY (uid, {key})) "
               f"PARTITION BY LIST ({key})")
    op.execute(f"CREATE TABLE search_terms ({key} {key_type} NOT NULL, term bigint NOT NULL, "
               f"documents integer NOT NULL, CONSTRAINT pk_search_terms PRIMARY KEY (term, {key})) "
               f"PARTITION BY LIST ({key})")
    for (value,) in _rows(f"SELECT DISTINCT {key_sql} FROM {docs_before} ORDER BY 1"):
        bound = f"'{value}'" if key == "part" else str(int(value))
        for table in ("search_documents", "search_terms"):
            op.execute(f"CREATE TABLE {table}_{name_of(value)} PARTITION OF {table} FOR VALUES IN ({bound})")
    columns = COLUMNS if key == "year" else f"part, {COLUMNS}"
    select = COLUMNS if key == "year" else f"{PART}, {COLUMNS}"
    op.execute(f"INSERT INTO search_documents ({columns}) SELECT {select} FROM {docs_before}")
    for suffix, how in INDEXES:   # after the copy: each partition's index is built in one pass
        op.execute(f"CREATE INDEX ix_search_documents_{suffix} ON search_documents {how}")
    op.execute(
        f"INSERT INTO search_terms ({key}, term, documents) SELECT x.k, {NUMBER}, x.n "
        f"FROM (SELECT d.{key} AS k, l.tok, count(*) AS n FROM search_documents d, "
        f"unnest(tsvector_to_array(d.\"text\")) AS l(tok) GROUP BY d.{key}, l.tok UNION ALL "
        f"SELECT d.{key}, 'char ' || c.tok, count(*) FROM search_documents d, unnest(d.chars) AS c(tok) "
        f"GROUP BY d.{key}, c.tok) x")
    op.execute(f"DROP TABLE {docs_before}")   # with its partitions
    op.execute(f"DROP TABLE {terms_before}")
    op.execute("DELETE FROM search_meta WHERE name LIKE 'moved:%'")
    op.execute("ANALYZE search_documents")
    op.execute("ANALYZE search_terms")


def upgrade() -> None:
    if _has_search_table():
        _convert("part", "text", PART, lambda part: part)


def downgrade() -> None:
    if _has_search_table():
        _convert("year", "integer", "year", lambda year: f"y{int(year)}")
