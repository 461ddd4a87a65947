"""Work orders, inspections and the hazard ledger: work_orders, hazards, inspection_templates, inspection_tasks,
complaints, device_tests, abnormal_events and monthly_reports.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('abnormal_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', sa.Float(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('actions', sa.Text(), nullable=False),
    sa.Column('reported_by', sa.String(length=200), nullable=False),
    sa.Column('reported_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('abnormal_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_abnormal_events_site_id'), ['site_id'], unique=False)

    op.create_table('complaints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('complainant', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=40), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('received_at', sa.Float(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('feedback_due_at', sa.Float(), nullable=False),
    sa.Column('feedback_at', sa.Float(), nullable=True),
    sa.Column('feedback_by', sa.String(length=200), nullable=True),
    sa.Column('feedback', sa.Text(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_site_id'), ['site_id'], unique=False)

    op.create_table('device_tests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('tested_at', sa.Float(), nullable=False),
    sa.Column('tested_by', sa.String(length=200), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('device_tests', schema=None) as batch_op:
        batch_op.create_index('ix_device_tests_device', ['device_id', 'tested_at'], unique=False)

    op.create_table('hazards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('location', sa.String(length=400), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('room_id', sa.Integer(), nullable=True),
    sa.Column('device_key', sa.String(length=200), nullable=True),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('work_order_id', sa.Integer(), nullable=True),
    sa.Column('inspection_task_id', sa.Integer(), nullable=True),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('major', sa.Boolean(), nullable=False),
    sa.Column('treatment_plan', sa.Text(), nullable=False),
    sa.Column('responsible_person', sa.String(length=200), nullable=False),
    sa.Column('department', sa.String(length=200), nullable=False),
    sa.Column('measures', sa.Text(), nullable=False),
    sa.Column('deadline_at', sa.Float(), nullable=False),
    sa.Column('registered_at', sa.Float(), nullable=False),
    sa.Column('registered_by', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('rectification_started_at', sa.Float(), nullable=True),
    sa.Column('rectified_at', sa.Float(), nullable=True),
    sa.Column('rectified_by', sa.String(length=200), nullable=True),
    sa.Column('rectification_note', sa.Text(), nullable=False),
    sa.Column('rectification_evidence', sa.JSON(), nullable=False),
    sa.Column('reinspected_at', sa.Float(), nullable=True),
    sa.Column('reinspected_by', sa.String(length=200), nullable=True),
    sa.Column('reinspection_passed', sa.Boolean(), nullable=True),
    sa.Column('reinspection_note', sa.Text(), nullable=False),
    sa.Column('reinspection_evidence', sa.JSON(), nullable=False),
    sa.Column('failed_reinspections', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.Float(), nullable=True),
    sa.Column('closed_by', sa.String(length=200), nullable=True),
    sa.Column('archived_at', sa.Float(), nullable=True),
    sa.Column('tier', sa.String(length=10), nullable=False),
    sa.Column('next_escalation_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('hazards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hazards_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hazards_site_id'), ['site_id'], unique=False)
        batch_op.create_index('ix_hazards_status', ['status', 'deadline_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_hazards_work_order_id'), ['work_order_id'], unique=False)

    op.create_table('inspection_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('cadence', sa.String(length=10), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.Column('period_start', sa.String(length=10), nullable=False),
    sa.Column('period_end', sa.String(length=10), nullable=False),
    sa.Column('due_at', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('done_at', sa.Float(), nullable=True),
    sa.Column('done_by', sa.String(length=200), nullable=True),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('overdue_at', sa.Float(), nullable=True),
    sa.Column('escalated_to', sa.String(length=30), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('template_id', 'site_id', 'period_start', name='uq_inspection_tasks_period')
    )
    with op.batch_alter_table('inspection_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_inspection_tasks_due', ['status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_tasks_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_tasks_template_id'), ['template_id'], unique=False)

    op.create_table('inspection_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('cadence', sa.String(length=10), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', name='uq_inspection_templates_name')
    )
    op.create_table('monthly_reports',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('published_at', sa.Float(), nullable=False),
    sa.Column('published_by', sa.String(length=200), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('month')
    )
    op.create_table('work_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('room_id', sa.Integer(), nullable=True),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('device_key', sa.String(length=200), nullable=True),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('hazard_id', sa.Integer(), nullable=True),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('assignee', sa.String(length=200), nullable=True),
    sa.Column('assignee_staff_id', sa.Integer(), nullable=True),
    sa.Column('dispatched_at', sa.Float(), nullable=True),
    sa.Column('dispatched_by', sa.String(length=200), nullable=True),
    sa.Column('accepted_at', sa.Float(), nullable=True),
    sa.Column('accepted_by', sa.String(length=200), nullable=True),
    sa.Column('reject_count', sa.Integer(), nullable=False),
    sa.Column('check_in_at', sa.Float(), nullable=True),
    sa.Column('check_in_lat', sa.Float(), nullable=True),
    sa.Column('check_in_lon', sa.Float(), nullable=True),
    sa.Column('photos', sa.JSON(), nullable=False),
    sa.Column('check_out_at', sa.Float(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('completed_by', sa.String(length=200), nullable=True),
    sa.Column('follow_up_at', sa.Float(), nullable=True),
    sa.Column('follow_up_by', sa.String(length=200), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('follow_up_comment', sa.Text(), nullable=False),
    sa.Column('closed_at', sa.Float(), nullable=True),
    sa.Column('cancelled_at', sa.Float(), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=False),
    sa.Column('sla_accept_s', sa.Float(), nullable=False),
    sa.Column('sla_finish_s', sa.Float(), nullable=False),
    sa.Column('accept_due_at', sa.Float(), nullable=False),
    sa.Column('finish_due_at', sa.Float(), nullable=False),
    sa.Column('accept_escalated_at', sa.Float(), nullable=True),
    sa.Column('finish_escalated_at', sa.Float(), nullable=True),
    sa.Column('escalations', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_orders_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_orders_assignee_staff_id'), ['assignee_staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_orders_hazard_id'), ['hazard_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_orders_site_id'), ['site_id'], unique=False)
        batch_op.create_index('ix_work_orders_status', ['status', 'priority', 'created_at'], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_work_orders_status')
        batch_op.drop_index(batch_op.f('ix_work_orders_site_id'))
        batch_op.drop_index(batch_op.f('ix_work_orders_hazard_id'))
        batch_op.drop_index(batch_op.f('ix_work_orders_assignee_staff_id'))
        batch_op.drop_index(batch_op.f('ix_work_orders_alert_id'))

    op.drop_table('work_orders')
    op.drop_table('monthly_reports')
    op.drop_table('inspection_templates')
    with op.batch_alter_table('inspection_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_tasks_template_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_tasks_site_id'))
        batch_op.drop_index('ix_inspection_tasks_due')

    op.drop_table('inspection_tasks')
    with op.batch_alter_table('hazards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hazards_work_order_id'))
        batch_op.drop_index('ix_hazards_status')
        batch_op.drop_index(batch_op.f('ix_hazards_site_id'))
        batch_op.drop_index(batch_op.f('ix_hazards_alert_id'))

    op.drop_table('hazards')
    with op.batch_alter_table('device_tests', schema=None) as batch_op:
        batch_op.drop_index('ix_device_tests_device')

    op.drop_table('device_tests')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_site_id'))

    op.drop_table('complaints')
    with op.batch_alter_table('abnormal_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_abnormal_events_site_id'))

    op.drop_table('abnormal_events')
