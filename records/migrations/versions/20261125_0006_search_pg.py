"""search on PostgreSQL: blind tokens in a table (tsvector with positions, GIN indexes)

Only on PostgreSQL; a no-op on SQLite (the embedded search index is Whoosh, on disk). The
same statements as ``search.pg_backend.table_ddl`` (a rebuild creates the table under
another name and renames it), written out here so this revision never changes.

Revision ID: 20261125_0006
Revises: 20261125_0005
Create Date: 2026-11-25 23:00:00
"""
from alembic import op

revision = '20261125_0006'
down_revision = '20261125_0005'
branch_labels = None
depends_on = None

UPGRADE = (
    (
        'CREATE TABLE search_documents ('
        ' uid text NOT NULL, record_id bigint NOT NULL, serial text NOT NULL, year integer NOT NULL,'
        ' status text NOT NULL, channel text NOT NULL, region text NOT NULL, category text NOT NULL,'
        ' office text NOT NULL, received bigint NOT NULL, doc_version integer NOT NULL,'
        ' allowed text[] NOT NULL, denied text[] NOT NULL, "text" tsvector NOT NULL, chars text[] NOT NULL,'
        ' CONSTRAINT pk_search_documents PRIMARY KEY (uid))'
    ),
    'CREATE INDEX ix_search_documents_text ON search_documents USING gin ("text")',
    'CREATE INDEX ix_search_documents_chars ON search_documents USING gin (chars)',
    'CREATE INDEX ix_search_documents_allowed ON search_documents USING gin (allowed)',
    'CREATE INDEX ix_search_documents_received ON search_documents (received)',
    'CREATE TABLE search_meta (name text NOT NULL, value text NOT NULL, CONSTRAINT pk_search_meta PRIMARY KEY (name))',
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TABLE IF EXISTS search_meta")
    op.execute("DROP TABLE IF EXISTS search_documents")
