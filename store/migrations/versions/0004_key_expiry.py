"""API keys: a name (the former ``label``), an optional expiry and the time of last use.

Frozen, like the earlier revisions: the types are spelled out rather than imported from the models.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_NAME = sa.String(length=256)


def upgrade() -> None:
    # A database stamped 0001 because ``create_all`` made it may have been made by a newer model,
    # with some of these columns already (as in 0003).
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("api_keys")}
    # SQLite cannot alter a column in place: batch mode copies the table (keys, index and all).
    with op.batch_alter_table("api_keys") as batch:
        if "label" in columns and "name" not in columns:
            batch.alter_column("label", new_column_name="name", existing_type=_NAME)
        for added in ("expires_at", "last_used_at"):
            if added not in columns:
                batch.add_column(sa.Column(added, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
        batch.alter_column("name", new_column_name="label", existing_type=_NAME)
