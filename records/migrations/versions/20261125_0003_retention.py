"""retention: batches, batch letters, holds, destruction runs and their journal, residual
metadata of destroyed letters, certificates

Revision ID: 20261125_0003
Revises: 20261125_0002
Create Date: 2026-11-25 19:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '20261125_0003'
down_revision = '20261125_0002'
branch_labels = None
depends_on = None


def _users_fk(table: str, column: str):
    return sa.ForeignKeyConstraint([column], ['users.id'], name=op.f(f'fk_{table}_{column}_users'))


def upgrade() -> None:
    op.create_table('retention_batches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('region_code', sa.String(length=12), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('key_generation', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('sealed_at', sa.DateTime(), nullable=True),
        sa.Column('sealed_by_id', sa.Integer(), nullable=True),
        sa.Column('proposed_at', sa.DateTime(), nullable=True),
        sa.Column('proposed_by_id', sa.Integer(), nullable=True),
        sa.Column('approved_at', sa.DateTime(), nullable=True),
        sa.Column('approved_by_id', sa.Integer(), nullable=True),
        sa.Column('destroyed_at', sa.DateTime(), nullable=True),
        sa.Column('certified_at', sa.DateTime(), nullable=True),
        sa.Column('rounds', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_retention_batches_region_code_regions')),
        _users_fk('retention_batches', 'sealed_by_id'),
        _users_fk('retention_batches', 'proposed_by_id'),
        _users_fk('retention_batches', 'approved_by_id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_batches')),
        sa.UniqueConstraint('region_code', 'year', name=op.f('uq_retention_batches_region_code')),
    )
    op.create_index(op.f('ix_retention_batches_state'), 'retention_batches', ['state'])

    op.create_table('retention_batch_letters',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=True),
        sa.Column('serial', sa.String(length=20), nullable=False),
        sa.Column('stored_reason', sa.String(length=32), nullable=False),
        sa.Column('received_on', sa.Date(), nullable=False),
        sa.Column('stored_at', sa.DateTime(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('excluded_reason', sa.String(length=500), nullable=True),
        sa.Column('excluded_by_id', sa.Integer(), nullable=True),
        sa.Column('excluded_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['batch_id'], ['retention_batches.id'],
                                name=op.f('fk_retention_batch_letters_batch_id_retention_batches')),
        sa.ForeignKeyConstraint(['record_id'], ['records.id'], ondelete='SET NULL',
                                name=op.f('fk_retention_batch_letters_record_id_records')),
        _users_fk('retention_batch_letters', 'excluded_by_id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_batch_letters')),
        sa.UniqueConstraint('serial', name=op.f('uq_retention_batch_letters_serial')),
        sa.UniqueConstraint('record_id', name=op.f('uq_retention_batch_letters_record_id')),
    )
    op.create_index(op.f('ix_retention_batch_letters_batch_id'), 'retention_batch_letters', ['batch_id'])
    op.create_index('ix_retention_batch_letters_batch_state', 'retention_batch_letters', ['batch_id', 'state'])

    op.create_table('retention_holds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=True),
        sa.Column('serial', sa.String(length=20), nullable=True),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('placed_by_id', sa.Integer(), nullable=False),
        sa.Column('placed_at', sa.DateTime(), nullable=False),
        sa.Column('lifted_at', sa.DateTime(), nullable=True),
        sa.Column('lifted_by_id', sa.Integer(), nullable=True),
        sa.Column('lift_reason', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['batch_id'], ['retention_batches.id'],
                                name=op.f('fk_retention_holds_batch_id_retention_batches')),
        _users_fk('retention_holds', 'placed_by_id'),
        _users_fk('retention_holds', 'lifted_by_id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_holds')),
    )
    op.create_index(op.f('ix_retention_holds_batch_id'), 'retention_holds', ['batch_id'])
    op.create_index(op.f('ix_retention_holds_serial'), 'retention_holds', ['serial'])

    op.create_table('retention_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('phase', sa.String(length=16), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('started_by_id', sa.Integer(), nullable=True),
        sa.Column('proposed_by_id', sa.Integer(), nullable=True),
        sa.Column('approved_by_id', sa.Integer(), nullable=True),
        sa.Column('old_key_generation', sa.Integer(), nullable=False),
        sa.Column('letters', sa.Integer(), nullable=False),
        sa.Column('skipped_held', sa.Integer(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['batch_id'], ['retention_batches.id'],
                                name=op.f('fk_retention_runs_batch_id_retention_batches')),
        _users_fk('retention_runs', 'started_by_id'),
        _users_fk('retention_runs', 'proposed_by_id'),
        _users_fk('retention_runs', 'approved_by_id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_runs')),
    )
    op.create_index(op.f('ix_retention_runs_batch_id'), 'retention_runs', ['batch_id'])

    op.create_table('retention_run_steps',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('batch_letter_id', sa.Integer(), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('serial', sa.String(length=20), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('blobs', sa.Text(), nullable=False),
        sa.Column('fingerprints', sa.Text(), nullable=False),
        sa.Column('done_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['run_id'], ['retention_runs.id'],
                                name=op.f('fk_retention_run_steps_run_id_retention_runs')),
        sa.ForeignKeyConstraint(['batch_letter_id'], ['retention_batch_letters.id'],
                                name=op.f('fk_retention_run_steps_batch_letter_id_retention_batch_letters')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_run_steps')),
    )
    op.create_index(op.f('ix_retention_run_steps_run_id'), 'retention_run_steps', ['run_id'])
    op.create_index('ix_retention_run_steps_run_state', 'retention_run_steps', ['run_id', 'state'])

    op.create_table('retention_certificates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=32), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('issued_at', sa.DateTime(), nullable=False),
        sa.Column('letters', sa.Integer(), nullable=False),
        sa.Column('residue_clean', sa.Boolean(), nullable=False),
        sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['batch_id'], ['retention_batches.id'],
                                name=op.f('fk_retention_certificates_batch_id_retention_batches')),
        sa.ForeignKeyConstraint(['run_id'], ['retention_runs.id'],
                                name=op.f('fk_retention_certificates_run_id_retention_runs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_certificates')),
        sa.UniqueConstraint('number', name=op.f('uq_retention_certificates_number')),
        sa.UniqueConstraint('run_id', name=op.f('uq_retention_certificates_run_id')),
    )
    op.create_index(op.f('ix_retention_certificates_batch_id'), 'retention_certificates', ['batch_id'])

    op.create_table('retention_destroyed_letters',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('serial', sa.String(length=20), nullable=False),
        sa.Column('region_code', sa.String(length=12), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('stored_reason', sa.String(length=32), nullable=False),
        sa.Column('received_on', sa.Date(), nullable=False),
        sa.Column('stored_on', sa.Date(), nullable=False),
        sa.Column('destroyed_at', sa.DateTime(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('certificate_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['batch_id'], ['retention_batches.id'],
                                name=op.f('fk_retention_destroyed_letters_batch_id_retention_batches')),
        sa.ForeignKeyConstraint(['run_id'], ['retention_runs.id'],
                                name=op.f('fk_retention_destroyed_letters_run_id_retention_runs')),
        sa.ForeignKeyConstraint(['certificate_id'], ['retention_certificates.id'],
                                name=op.f('fk_retention_destroyed_letters_certificate_id_retention_certificates')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_destroyed_letters')),
        sa.UniqueConstraint('serial', name=op.f('uq_retention_destroyed_letters_serial')),
    )
    for col in ('batch_id', 'year', 'run_id', 'region_code'):
        op.create_index(op.f(f'ix_retention_destroyed_letters_{col}'), 'retention_destroyed_letters', [col])


def downgrade() -> None:
    for name in ('retention_destroyed_letters', 'retention_certificates', 'retention_run_steps',
                 'retention_runs', 'retention_holds', 'retention_batch_letters', 'retention_batches'):
        op.drop_table(name)
