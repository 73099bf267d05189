"""search on PostgreSQL: the documents table partitioned by year (issue 19)

``search_documents`` becomes a table partitioned by the letter's year (``PARTITION BY LIST
(year)``, one partition ``search_documents_y<year>`` per year), so a destruction of a
(region, year) batch rewrites (``VACUUM FULL``) that year's partition and its indexes only,
not every year's. The key becomes (uid, year). The rows of a populated table are copied into
the partitions (the token scheme and ``search_meta`` are unchanged: no reindex), the indexes
are built per partition, and the old table is dropped. Nothing to do on SQLite (Whoosh
keeps its own year shards). Written out here, not imported, so this revision never changes.

Revision ID: 20261203_0013
Revises: 20261203_0012
Create Date: 2026-12-03 14:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '20261203_0013'
down_revision = '20261203_0012'
branch_labels = None
depends_on = None

COLUMNS = ('uid, record_id, serial, year, status, channel, region, category, office, received, doc_version, '
           'allowed, denied, "text", chars, length')
TABLE_BODY = (
    ' (uid text NOT NULL, record_id bigint NOT NULL, serial text NOT NULL, year integer NOT NULL,'
    ' status text NOT NULL, channel text NOT NULL, region text NOT NULL, category text NOT NULL,'
    ' office text NOT NULL, received bigint NOT NULL, doc_version integer NOT NULL,'
    ' allowed text[] NOT NULL, denied text[] NOT NULL, "text" tsvector NOT NULL, chars text[] NOT NULL,'
    ' length integer NOT NULL DEFAULT 0,'
)
INDEXES = (('text', 'USING gin ("text")'), ('chars', 'USING gin (chars)'), ('allowed', 'USING gin (allowed)'),
           ('received', '(received)'))


def _has_search_table() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.execute(
        sa.text("SELECT to_regclass('search_documents') IS NOT NULL")).scalar_one()


def _set_aside() -> None:
    """The current table, its key and its indexes under other names (dropped at the end)."""
    op.execute("ALTER TABLE search_documents RENAME TO search_documents_before")
    op.execute("ALTER TABLE search_documents_before RENAME CONSTRAINT pk_search_documents "
               "TO pk_search_documents_before")
    for suffix, _ in INDEXES:
        op.execute(f"ALTER INDEX ix_search_documents_{suffix} RENAME TO ix_search_documents_before_{suffix}")


def _indexes() -> None:
    for suffix, how in INDEXES:
        op.execute(f"CREATE INDEX ix_search_documents_{suffix} ON search_documents {how}")


def upgrade() -> None:
    if not _has_search_table():
        return
    _set_aside()
    op.execute(f"CREATE TABLE search_documents{TABLE_BODY} CONSTRAINT pk_search_documents PRIMARY KEY (uid, year))"
               " PARTITION BY LIST (year)")
    years = op.get_bind().execute(sa.text("SELECT DISTINCT year FROM search_documents_before ORDER BY year")
                                  ).scalars().all()
    for year in years:
        op.execute(f"CREATE TABLE search_documents_y{int(year)} PARTITION OF search_documents "
                   f"FOR VALUES IN ({int(year)})")
    op.execute(f"INSERT INTO search_documents ({COLUMNS}) SELECT {COLUMNS} FROM search_documents_before")
    _indexes()   # after the copy: each partition's index is built in one pass
    op.execute("DROP TABLE search_documents_before")
    op.execute("ANALYZE search_documents")


def downgrade() -> None:
    if not _has_search_table():
        return
    _set_aside()
    op.execute(f"CREATE TABLE search_documents{TABLE_BODY} CONSTRAINT pk_search_documents PRIMARY KEY (uid))")
    op.execute(f"INSERT INTO search_documents ({COLUMNS}) SELECT {COLUMNS} FROM search_documents_before")
    _indexes()
    op.execute("DROP TABLE search_documents_before")   # with its partitions
    op.execute("DELETE FROM search_meta WHERE name LIKE 'moved:%'")
