"""Duty records: roster, handover, duty log, emergency calls.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('duty_shifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.Column('starts_at', sa.Float(), nullable=False),
    sa.Column('ends_at', sa.Float(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name='ck_duty_shifts_span'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id']),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('duty_shifts', schema=None) as batch_op:
        batch_op.create_index('ix_duty_shifts_role_span', ['role', 'starts_at', 'ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_duty_shifts_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_duty_shifts_staff_id'), ['staff_id'], unique=False)

    op.create_table('handovers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('outgoing_by', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('open_alerts', sa.JSON(), nullable=False),
    sa.Column('amended_at', sa.Float(), nullable=True),
    sa.Column('incoming_by', sa.String(length=200), nullable=True),
    sa.Column('incoming_signed_at', sa.Float(), nullable=True),
    sa.Column('incoming_notes', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handovers_site_id'), ['site_id'], unique=False)

    op.create_table('duty_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('duty_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duty_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_duty_log_site_id'), ['site_id'], unique=False)

    op.create_table('emergency_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('caller', sa.String(length=200), nullable=False),
    sa.Column('callee', sa.String(length=200), nullable=False),
    sa.Column('outcome', sa.String(length=40), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('emergency_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_calls_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_calls_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_calls_site_id'), ['site_id'], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('emergency_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_calls_site_id'))
        batch_op.drop_index(batch_op.f('ix_emergency_calls_at'))
        batch_op.drop_index(batch_op.f('ix_emergency_calls_alert_id'))

    op.drop_table('emergency_calls')
    with op.batch_alter_table('duty_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duty_log_site_id'))
        batch_op.drop_index(batch_op.f('ix_duty_log_at'))

    op.drop_table('duty_log')
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handovers_site_id'))

    op.drop_table('handovers')
    with op.batch_alter_table('duty_shifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duty_shifts_staff_id'))
        batch_op.drop_index(batch_op.f('ix_duty_shifts_site_id'))
        batch_op.drop_index('ix_duty_shifts_role_span')

    op.drop_table('duty_shifts')
