"""Pending devices keep the payload fields their profile does not map: pending_devices.unmapped_fields.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('pending_devices', schema=None) as batch_op:
        # Rows from before this revision have seen no unmapped field yet: an empty object.
        batch_op.add_column(sa.Column('unmapped_fields', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('pending_devices', schema=None) as batch_op:
        batch_op.drop_column('unmapped_fields')
