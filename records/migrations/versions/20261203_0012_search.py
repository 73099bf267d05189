"""search token scheme marker (issue 17)

Revision ID: 20261203_0012
Revises: 20261203_0011
Create Date: 2026-12-03 09:00:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '20261203_0012'
down_revision = '20261203_0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
