"""whether any attachment has text, from a partial index (issue 19)

Every search asks whether any attachment has extracted text before it counts the facet of
letters with text (``records.intake.operations.any_text``). While none has, or few have, the
question read every attachment's row: 1.2 ms a search with 15,000 attachments waiting for
text, growing with them. ``ix_attachment_texts_with_pages`` lists only the rows that have
text, so the question is one probe. The same partial index on SQLite and PostgreSQL.

Revision ID: 20261208_0021
Revises: 20261208_0020
Create Date: 2026-12-08 03:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '20261208_0021'
down_revision = '20261208_0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    where = sa.text("pages_sealed IS NOT NULL")
    op.create_index("ix_attachment_texts_with_pages", "attachment_texts", ["id"], unique=False,
                    sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index("ix_attachment_texts_with_pages", table_name="attachment_texts")
