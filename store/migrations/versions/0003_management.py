"""Management: audit log indexes for its filters and its outbox flag, bulk jobs with their items,
operator tokens.

Frozen, like the earlier revisions: the types are spelled out rather than imported from the models.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_AUDIT_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ix_audit_log_ts_id", ("ts", "id")),
    ("ix_audit_log_app_ts", ("app", "ts", "id")),
    ("ix_audit_log_actor_ts", ("actor", "ts", "id")),
    ("ix_audit_log_action_ts", ("action", "ts", "id")),
    ("ix_audit_log_subject_ts", ("subject", "ts", "id")),
)
_OLD_AUDIT_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ix_audit_log_app", ("app",)),
    ("ix_audit_log_ts", ("ts",)),
)


def _workflow_id() -> sa.types.TypeEngine[str]:
    # Byte order on PostgreSQL, as SQLite's BINARY: see store.models._workflow_id.
    return sa.String(length=512).with_variant(sa.String(length=512, collation="C"), "postgresql")


def _action(collation: str | None) -> sa.types.TypeEngine[str]:
    return sa.String(length=128, collation=collation)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Byte order, so that an action prefix (``workflow.``) is one index range under any locale.
        op.alter_column(
            "audit_log", "action", type_=_action("C"), existing_type=_action(None), nullable=False
        )
    # "If (not) exists": a database stamped 0001 because ``create_all`` made it may have been made
    # by a newer model, with the new indexes already.
    for name, _ in _OLD_AUDIT_INDEXES:
        op.drop_index(name, table_name="audit_log", if_exists=True)
    for name, columns in _AUDIT_INDEXES:
        op.create_index(name, "audit_log", list(columns), unique=False, if_not_exists=True)
    audit_columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("audit_log")}
    if "published" not in audit_columns:
        with op.batch_alter_table("audit_log") as batch:
            batch.add_column(
                sa.Column("published", sa.Boolean(), nullable=False, server_default=sa.true())
            )
    op.create_index(
        "ix_audit_log_published", "audit_log", ["published", "id"], unique=False, if_not_exists=True
    )
    op.create_table(
        "bulk_jobs",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("app", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_bulk_jobs_app_created", "bulk_jobs", ["app", "created_at"], unique=False)
    op.create_table(
        "bulk_job_items",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", _workflow_id(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("new_workflow_id", sa.String(length=512), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["bulk_jobs.job_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "workflow_id"),
    )
    op.create_index(
        "ix_bulk_job_items_position", "bulk_job_items", ["job_id", "position"], unique=True
    )
    op.create_index(
        "ix_bulk_job_items_outcome",
        "bulk_job_items",
        ["job_id", "outcome", "position"],
        unique=False,
    )
    op.create_table(
        "operator_tokens",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("token_hash"),
    )


def downgrade() -> None:
    op.drop_table("operator_tokens")
    op.drop_index("ix_bulk_job_items_outcome", table_name="bulk_job_items")
    op.drop_index("ix_bulk_job_items_position", table_name="bulk_job_items")
    op.drop_table("bulk_job_items")
    op.drop_index("ix_bulk_jobs_app_created", table_name="bulk_jobs")
    op.drop_table("bulk_jobs")
    op.drop_index("ix_audit_log_published", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("published")
    for name, _ in reversed(_AUDIT_INDEXES):
        op.drop_index(name, table_name="audit_log")
    for name, columns in _OLD_AUDIT_INDEXES:
        op.create_index(name, "audit_log", list(columns), unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "audit_log", "action", type_=_action(None), existing_type=_action("C"), nullable=False
        )
