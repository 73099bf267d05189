"""search token scheme 2: the letters' token count for BM25 (issue 17)

The PostgreSQL search table gains ``length`` (a letter's number of tokens as Whoosh
quantises it, for the one BM25 score of both backends). Its rows still hold the tokens of
scheme 1, and ``search_meta`` still says ``format = 1``: searches and ``xinfang search
check`` then report that the index must be rebuilt with ``xinfang search reindex`` (which
writes scheme 2 and the statistics). Nothing to do on SQLite (the Whoosh index records its
scheme in its own ``meta.json``).

Revision ID: 20261203_0012
Revises: 20261203_0011
Create Date: 2026-12-03 09:00:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = '20261203_0012'
down_revision = '20261203_0011'
branch_labels = None
depends_on = None


def _has_search_table() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.execute(
        sa.text("SELECT to_regclass('search_documents') IS NOT NULL")).scalar_one()


def upgrade() -> None:
    if _has_search_table():
        op.execute("ALTER TABLE search_documents ADD COLUMN IF NOT EXISTS length integer NOT NULL DEFAULT 0")


def downgrade() -> None:
    if _has_search_table():
        op.execute("ALTER TABLE search_documents DROP COLUMN IF EXISTS length")
        # the rows hold scheme-2 tokens: mark them so the older version asks for a rebuild
        op.execute("UPDATE search_meta SET value = '2' WHERE name = 'format'")
