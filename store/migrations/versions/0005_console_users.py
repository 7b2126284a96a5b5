"""Console sign-in: users, one-time sign-in codes, the shared cookie secret, and a role on every
operator token (existing tokens become operators).

Frozen, like the earlier revisions: the types are spelled out rather than imported from the models.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A database stamped 0001 because ``create_all`` made it may have been made by a newer model,
    # with these tables and the column already (as in 0003 and 0004).
    inspector = sa.inspect(op.get_bind())
    tables = inspector.get_table_names()
    if "role" not in {column["name"] for column in inspector.get_columns("operator_tokens")}:
        with op.batch_alter_table("operator_tokens") as batch:
            batch.add_column(
                sa.Column("role", sa.String(length=16), server_default="operator", nullable=False)
            )
    if "console_users" not in tables:
        op.create_table(
            "console_users",
            sa.Column("name", sa.String(length=64), nullable=False),
            sa.Column("password_hash", sa.Text(), nullable=True),
            sa.Column("role", sa.String(length=16), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("sessions_valid_after", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("name"),
        )
    if "console_signin_codes" not in tables:
        op.create_table(
            "console_signin_codes",
            sa.Column("code_hash", sa.String(length=64), nullable=False),
            sa.Column("user_name", sa.String(length=64), nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("code_hash"),
        )
        op.create_index("ix_console_signin_codes_user_name", "console_signin_codes", ["user_name"])
    if "console_secrets" not in tables:
        op.create_table(
            "console_secrets",
            sa.Column("name", sa.String(length=32), nullable=False),
            sa.Column("value", sa.String(length=128), nullable=False),
            sa.PrimaryKeyConstraint("name"),
        )


def downgrade() -> None:
    op.drop_table("console_secrets")
    op.drop_index("ix_console_signin_codes_user_name", table_name="console_signin_codes")
    op.drop_table("console_signin_codes")
    op.drop_table("console_users")
    with op.batch_alter_table("operator_tokens") as batch:
        batch.drop_column("role")
