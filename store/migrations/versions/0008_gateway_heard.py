"""When the worker last heard each gateway pod for an app: a connected executor's "last seen" is at
least its pod's (the executors' rows no longer move on every heartbeat).

Frozen, like the earlier revisions: the types are spelled out rather than imported from the models.
Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A database stamped 0001 because ``create_all`` made it may have been made by a newer model,
    # with this table already (as in 0003 and 0004).
    if "gateway_heard" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "gateway_heard",
        sa.Column("app", sa.String(length=128), nullable=False),
        sa.Column("gateway", sa.String(length=256), nullable=False),
        sa.Column("heard_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("app", "gateway"),
    )


def downgrade() -> None:
    op.drop_table("gateway_heard")
