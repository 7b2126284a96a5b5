"""App settings: one row per app that has any (payload privacy, who set it and when).

Frozen, like the earlier revisions: the types are spelled out rather than imported from the models.
Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A database stamped 0001 because ``create_all`` made it may have been made by a newer model,
    # with this table already (as in 0003 and 0004).
    if "app_settings" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "app_settings",
        sa.Column("app", sa.String(length=128), nullable=False),
        sa.Column("payload_privacy", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("app"),
    )


def downgrade() -> None:
    op.drop_table("app_settings")
