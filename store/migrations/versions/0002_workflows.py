"""Workflow observability: workflow statuses, their steps, and counts per name, queue and status.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _workflow_id() -> sa.types.TypeEngine[str]:
    # Byte order on PostgreSQL, as SQLite's BINARY: see store.models._workflow_id.
    return sa.String(length=512).with_variant(sa.String(length=512, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("app", sa.String(length=128), nullable=False),
        sa.Column("workflow_id", _workflow_id(), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=True),
        sa.Column("class_name", sa.String(length=512), nullable=True),
        sa.Column("config_name", sa.String(length=512), nullable=True),
        sa.Column("authenticated_user", sa.String(length=256), nullable=True),
        sa.Column("assumed_role", sa.String(length=256), nullable=True),
        sa.Column("authenticated_roles", sa.Text(), nullable=True),
        sa.Column("input", sa.Text(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("completed_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("dequeued_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("queue_name", sa.String(length=256), nullable=True),
        sa.Column("queue_partition_key", sa.String(length=256), nullable=True),
        sa.Column("deduplication_id", sa.String(length=512), nullable=True),
        sa.Column("priority", sa.BigInteger(), nullable=True),
        sa.Column("application_version", sa.String(length=256), nullable=True),
        sa.Column("executor_id", sa.String(length=256), nullable=True),
        sa.Column("timeout_ms", sa.BigInteger(), nullable=True),
        sa.Column("deadline_epoch_ms", sa.BigInteger(), nullable=True),
        sa.Column("delay_until_epoch_ms", sa.BigInteger(), nullable=True),
        sa.Column("forked_from", sa.String(length=512), nullable=True),
        sa.Column("was_forked_from", sa.Boolean(), nullable=False),
        sa.Column("parent_workflow_id", sa.String(length=512), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("schedule_name", sa.String(length=256), nullable=True),
        sa.Column("observed_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("input_updated_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("input_observed_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("output_updated_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("output_observed_at_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("app", "workflow_id"),
    )
    for name, columns in _WORKFLOW_INDEXES:
        op.create_index(name, "workflows", list(columns), unique=False)
    op.create_table(
        "workflow_steps",
        sa.Column("app", sa.String(length=128), nullable=False),
        sa.Column("workflow_id", _workflow_id(), nullable=False),
        sa.Column("function_id", sa.Integer(), nullable=False),
        sa.Column("function_name", sa.String(length=512), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("child_workflow_id", sa.String(length=512), nullable=True),
        sa.Column("started_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("completed_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("observed_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app", "workflow_id", "function_id"),
    )
    op.create_table(
        "workflow_counts",
        sa.Column("app", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("queue_name", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app", "name", "queue_name", "status"),
    )


_WORKFLOW_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ix_workflows_app_created", ("app", "created_at_ms", "workflow_id", "status")),
    ("ix_workflows_app_status_created", ("app", "status", "created_at_ms", "workflow_id")),
    (
        "ix_workflows_app_name_created",
        ("app", "name", "created_at_ms", "workflow_id", "status"),
    ),
    ("ix_workflows_app_queue_status", ("app", "queue_name", "status", "created_at_ms")),
    ("ix_workflows_app_executor", ("app", "executor_id", "created_at_ms", "status")),
    ("ix_workflows_app_version", ("app", "application_version", "created_at_ms", "status")),
    ("ix_workflows_app_parent", ("app", "parent_workflow_id", "created_at_ms")),
)


def downgrade() -> None:
    op.drop_table("workflow_counts")
    op.drop_table("workflow_steps")
    for name, _ in reversed(_WORKFLOW_INDEXES):
        op.drop_index(name, table_name="workflows")
    op.drop_table("workflows")
