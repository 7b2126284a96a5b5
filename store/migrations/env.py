"""Alembic's environment for the store: runs the revisions on the connection it is handed.

``store.database`` builds the ``Config`` in code and passes an open connection, already in the
transaction that holds the migration lock, as ``config.attributes["connection"]``; there is no
``alembic.ini`` and no offline (SQL script) mode. Imports the models (for autogenerate and the
schema comparison test) and nothing else of Baton's.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from store.models import Base

_connection = context.config.attributes.get("connection")
if context.is_offline_mode() or not isinstance(_connection, Connection):
    raise RuntimeError(
        "store migrations run through store.database.Store.start(), on an open connection"
    )
context.configure(connection=_connection, target_metadata=Base.metadata)
# Inside the caller's transaction, begin_transaction() does nothing: the caller commits.
with context.begin_transaction():
    context.run_migrations()
