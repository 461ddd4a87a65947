"""Cluster: members with heartbeats, shard leases with a fencing epoch, the shard of each recorded event and detection.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        'cluster_members',
        sa.Column('hub_id', sa.String(length=120), nullable=False),
        sa.Column('url', sa.String(length=300), nullable=False),
        sa.Column('started_at', sa.Float(), nullable=False),
        sa.Column('seen_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('hub_id'),
    )
    op.create_table(
        'shard_leases',
        sa.Column('shard', sa.String(length=120), nullable=False),
        sa.Column('holder', sa.String(length=120), nullable=True),
        sa.Column('epoch', sa.Integer(), nullable=False),
        sa.Column('acquired_at', sa.Float(), nullable=False),
        sa.Column('renewed_at', sa.Float(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.Column('takeovers', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('shard'),
    )
    with op.batch_alter_table('device_events', schema=None) as batch_op:
        # The shard whose intake recorded the event: its next holder re-runs what was left unhandled.
        batch_op.add_column(sa.Column('shard', sa.String(length=120), nullable=True))
    with op.batch_alter_table('detections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shard', sa.String(length=120), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('detections', schema=None) as batch_op:
        batch_op.drop_column('shard')
    with op.batch_alter_table('device_events', schema=None) as batch_op:
        batch_op.drop_column('shard')
    op.drop_table('shard_leases')
    op.drop_table('cluster_members')
