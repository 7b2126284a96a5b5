"""Indexes on when workflows were dequeued and completed, per app: the DBOS Conductor metric
families (``store.conductor_metrics``) count the workflows dequeued and completed in one
minute, a range of each index.

Frozen, like the earlier revisions.
Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_INDEXES = (
    ("ix_workflows_app_dequeued", ("app", "dequeued_at_ms")),
    ("ix_workflows_app_completed", ("app", "completed_at_ms")),
)


def upgrade() -> None:
    # A database stamped 0001 because ``create_all`` made it may have been made by a newer model,
    # with these indexes already (as in 0003 and 0004).
    existing = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("workflows")}
    for name, columns in _INDEXES:
        if name not in existing:
            op.create_index(name, "workflows", list(columns), unique=False)


def downgrade() -> None:
    for name, _ in _INDEXES:
        op.drop_index(name, table_name="workflows")
