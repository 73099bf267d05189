"""statistics: monthly term counts (an aggregate, no text); the duty roster

Revision ID: 20261125_0005
Revises: 20261125_0004
Create Date: 2026-11-25 21:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '20261125_0005'
down_revision = '20261125_0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('term_counts',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('term', sa.String(length=32), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'term', name=op.f('pk_term_counts'))
    )
    op.create_table('duty_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_duty_days_created_by_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_duty_days_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty_days')),
    sa.UniqueConstraint('on', 'kind', 'user_id', name=op.f('uq_duty_days_on'))
    )
    op.create_index(op.f('ix_duty_days_on'), 'duty_days', ['on'], unique=False)
    op.create_index(op.f('ix_duty_days_user_id'), 'duty_days', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_duty_days_user_id'), table_name='duty_days')
    op.drop_index(op.f('ix_duty_days_on'), table_name='duty_days')
    op.drop_table('duty_days')
    op.drop_table('term_counts')
