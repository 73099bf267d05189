"""extracted attachment text and e-mail import (issue 20)

Revision ID: 20261203_0010
Revises: 20261203_0009
Create Date: 2026-12-03 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '20261203_0010'
down_revision = '20261203_0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachment_texts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("attachment_id", sa.Integer(), sa.ForeignKey("attachments.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("record_id", sa.Integer(), sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("pages_done", sa.Integer(), nullable=False),
        sa.Column("pages_total", sa.Integer(), nullable=True),
        sa.Column("pages_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("attachment_id", name="uq_attachment_texts_attachment_id"),
    )
    op.create_index("ix_attachment_texts_record_id", "attachment_texts", ["record_id"])
    op.create_index("ix_attachment_texts_status", "attachment_texts", ["status"])
    op.create_table(
        "mail_imports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_token", sa.LargeBinary(32), nullable=False),
        sa.Column("record_id", sa.Integer(), sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("message_token", name="uq_mail_imports_message_token"),
    )
    op.create_index("ix_mail_imports_record_id", "mail_imports", ["record_id"])


def downgrade() -> None:
    op.drop_index("ix_mail_imports_record_id", table_name="mail_imports")
    op.drop_table("mail_imports")
    op.drop_index("ix_attachment_texts_status", table_name="attachment_texts")
    op.drop_index("ix_attachment_texts_record_id", table_name="attachment_texts")
    op.drop_table("attachment_texts")
