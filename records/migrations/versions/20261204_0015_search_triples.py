"""search on PostgreSQL: a letter's triples of tokens in its row (issue 19)

``search_documents.triples``: every three tokens at consecutive positions (the first 8 bytes
of the SHA-256 of ``first || ' ' || second || ' ' || third``, a signed 64-bit number,
ascending, once each), with a GIN index. A phrase of three tokens (a substring of four
characters, the commonest Chinese query) is answered by that index alone, with no
``tsvector`` read from TOAST; a longer phrase's candidates are the letters holding all its
triples. Filled here for the rows of a populated table from their ``tsvector`` (the values
``search.postgres.schema.row_of`` writes for the same letter).

Nothing to do on SQLite (Whoosh keeps its own postings). Written out here, not imported, so
this revision never changes.

Revision ID: 20261204_0015
Revises: 20261203_0014
Create Date: 2026-12-04 17:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '20261204_0015'
down_revision = '20261203_0014'
branch_labels = None
depends_on = None


def _number(text_sql: str) -> str:
    return f"CAST(CAST(('x' || encode(substr(sha256(convert_to({text_sql}, 'UTF8')), 1, 8), 'hex')) AS bit(64)) AS bigint)"


def _has_search_table() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.execute(
        sa.text("SELECT to_regclass('search_documents') IS NOT NULL")).scalar_one()


def upgrade() -> None:
    if not _has_search_table():
        return
    op.execute("ALTER TABLE search_documents ADD COLUMN triples bigint[] NOT NULL DEFAULT '{}'")
    positions = 'SELECT u.lexeme, p FROM unnest(s."text") u, unnest(u.positions) p'
    triple = _number("x.lexeme || ' ' || y.lexeme || ' ' || z.lexeme")
    op.execute(
        "UPDATE search_documents d SET triples = r.triples "
        "FROM (SELECT s.uid, s.year, "
        f"COALESCE((SELECT array_agg(DISTINCT {triple} ORDER BY {triple}) FROM ({positions}) x "
        f"JOIN ({positions}) y ON y.p = x.p + 1 JOIN ({positions}) z ON z.p = x.p + 2), '{{}}') AS triples "
        "FROM search_documents s) r WHERE d.uid = r.uid AND d.year = r.year")
    op.execute("CREATE INDEX ix_search_documents_triples ON search_documents USING gin (triples)")
    op.execute("ANALYZE search_documents")


def downgrade() -> None:
    if not _has_search_table():
        return
    op.execute("DROP INDEX ix_search_documents_triples")
    op.execute("ALTER TABLE search_documents DROP COLUMN triples")
