"""Baseline: the tables Baton created with ``metadata.create_all`` before it had migrations.

A database created that way (these tables, no ``alembic_version``) is stamped with this revision
instead of running it. Frozen: the types are spelled out rather than imported from the models.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("app", sa.String(length=128), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("label", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_index("ix_api_keys_app", "api_keys", ["app"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("app", sa.String(length=128), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=64), nullable=False),
        sa.Column("record", sa.JSON(), nullable=True),
        sa.Column("event_key", sa.String(length=1024), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_key"),
    )
    op.create_index("ix_audit_log_app", "audit_log", ["app"], unique=False)
    op.create_index("ix_audit_log_ts", "audit_log", ["ts"], unique=False)
    op.create_table(
        "executors",
        sa.Column("app", sa.String(length=128), nullable=False),
        sa.Column("executor_id", sa.String(length=256), nullable=False),
        sa.Column("application_version", sa.String(length=256), nullable=False),
        sa.Column("hostname", sa.String(length=256), nullable=True),
        sa.Column("language", sa.String(length=64), nullable=True),
        sa.Column("dbos_version", sa.String(length=64), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("gateway", sa.String(length=256), nullable=False),
        sa.Column("conn_id", sa.String(length=256), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_code", sa.Integer(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("app", "executor_id"),
    )
    op.create_table(
        "recoveries",
        sa.Column("app", sa.String(length=128), nullable=False),
        sa.Column("dead_executor_id", sa.String(length=256), nullable=False),
        sa.Column("declared_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("application_version", sa.String(length=256), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=256), nullable=True),
        sa.Column("command_id", sa.String(length=512), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("app", "dead_executor_id", "declared_at_ms"),
    )
    op.create_index("ix_recoveries_declared_at", "recoveries", ["declared_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_recoveries_declared_at", table_name="recoveries")
    op.drop_table("recoveries")
    op.drop_table("executors")
    op.drop_index("ix_audit_log_ts", table_name="audit_log")
    op.drop_index("ix_audit_log_app", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_api_keys_app", table_name="api_keys")
    op.drop_table("api_keys")
