"""Detections table: what the detectors concluded, with evidence.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:01:19.978254
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table("detections",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("type", sa.String(length=40), nullable=False),
    sa.Column("state", sa.String(length=20), nullable=False),
    sa.Column("subject", sa.String(length=200), nullable=False),
    sa.Column("t", sa.Float(), nullable=False),
    sa.Column("confidence", sa.Float(), nullable=False),
    sa.Column("device_key", sa.String(length=200), nullable=True),
    sa.Column("resident_id", sa.Integer(), nullable=True),
    sa.Column("room_id", sa.Integer(), nullable=True),
    sa.Column("site_id", sa.Integer(), nullable=True),
    sa.Column("evidence", sa.JSON(), nullable=False),
    sa.Column("recorded_at", sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("detections", schema=None) as batch_op:
        batch_op.create_index("ix_detections_subject", ["subject"], unique=False)
        batch_op.create_index("ix_detections_t", ["t"], unique=False)



def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("detections", schema=None) as batch_op:
        batch_op.drop_index("ix_detections_t")
        batch_op.drop_index("ix_detections_subject")

    op.drop_table("detections")
