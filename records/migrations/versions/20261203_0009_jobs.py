"""the job runner's journal and key-lifecycle holders (issue 13)

Revision ID: 20261203_0009
Revises: 20261203_0008
Create Date: 2026-12-03 09:00:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '20261203_0009'
down_revision = '20261203_0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
