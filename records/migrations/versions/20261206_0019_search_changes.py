"""search on PostgreSQL: a log of the letters each index write changed (issue 19)

``search_changes`` (seq, uid): every writing transaction of the search table takes the next
number (``search_meta`` row ``change_seq``, locked until its commit, so numbers follow the
commits) and lists the letters it wrote. A process that keeps a query's hits reads the
letters changed since it last looked and brings only those hits up to date
(``search.postgres.hitcache``). The log is trimmed by its writers; deleted letters are never
listed (their entries go, and ``change_floor`` makes every process read its hits afresh).
Starts empty: no process keeps anything before the first write. Nothing to do on SQLite.
Written out here, not imported, so this revision never changes.

Revision ID: 20261206_0019
Revises: 20261206_0018
Create Date: 2026-12-06 07:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '20261206_0019'
down_revision = '20261206_0018'
branch_labels = None
depends_on = None


def _has_search_table() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.execute(
        sa.text("SELECT to_regclass('search_documents') IS NOT NULL")).scalar_one()


def upgrade() -> None:
    if not _has_search_table():
        return
    op.execute("CREATE TABLE IF NOT EXISTS search_changes (seq bigint NOT NULL, uid text NOT NULL)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_search_changes_seq ON search_changes (seq)")


def downgrade() -> None:
    if not _has_search_table():
        return
    op.execute("DROP TABLE search_changes")
    op.execute("DELETE FROM search_meta WHERE name IN ('change_seq', 'change_floor')")
