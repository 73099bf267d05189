"""the ledger's order in one index, and the letters' table vacuumed as it grows (issue 19)

``ix_records_received_at_id`` (received_at, id) replaces ``ix_records_received_at``. The
ledger lists letters newest first, ``received_at DESC, id DESC``. With the received time
alone indexed, PostgreSQL reads a page in received order and then sorts every letter that
shares a received time with one on the page: a day's post registered at midnight, or a
batch entered with the same time, is thousands of letters with all their joined rows, and a
page among them took 24 to 32 ms instead of 5 to 8 (3,259 letters of one received time among
100,000). With both columns a page is read from the index in the ledger's order and stops
after its last line. SQLite keeps the row id in every index already; the index is the same
there, so the schema is one. Building it locks writes to ``records`` for its seconds.

On PostgreSQL, ``records`` is also vacuumed after fewer new or changed letters than the
server's defaults (20 % of the table). The ledger counts the letters a user may see on every
page with an index-only scan, which must visit the table for every page of rows written since
the last vacuum: at 100,000 letters the count took 23.5 ms with the pages of a few thousand
new letters not yet marked all-visible, 9 to 13 ms after a vacuum. Vacuuming a table of
letters costs seconds and runs in the background.

Revision ID: 20261208_0020
Revises: 20261206_0019
Create Date: 2026-12-08 03:00:00
"""
from alembic import op

revision = '20261208_0020'
down_revision = '20261206_0019'
branch_labels = None
depends_on = None

#: Letters written (inserted, changed or deleted) before autovacuum visits ``records``:
#: this share of the table, plus the server's threshold (1,000 by default).
_SCALE = "0.02"


def upgrade() -> None:
    op.create_index("ix_records_received_at_id", "records", ["received_at", "id"], unique=False)
    op.drop_index("ix_records_received_at", table_name="records")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE records SET (autovacuum_vacuum_insert_scale_factor = {_SCALE}, "
                   f"autovacuum_vacuum_scale_factor = {_SCALE}, autovacuum_analyze_scale_factor = {_SCALE})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE records RESET (autovacuum_vacuum_insert_scale_factor, "
                   "autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor)")
    op.create_index("ix_records_received_at", "records", ["received_at"], unique=False)
    op.drop_index("ix_records_received_at_id", table_name="records")
