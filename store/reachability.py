"""Whether a role can use its store: the ``store`` check of ``runtime.readiness``.

Must not import the gateway, the console, Faust or Kafka.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from runtime.readiness import Check
from store.database import Store


def store_check(store: Store) -> Check:
    """A check that ``store`` answers ``SELECT 1`` (the reason never carries the URL: it may hold
    a password)."""

    async def check() -> str | None:
        try:
            async with store.sessionmaker.begin() as session:
                await session.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            return f"the store does not answer: {type(exc).__name__}"
        return None

    return check


def store_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (raised by a store query) says the database server cannot be reached or
    dropped the connection, rather than a bug: the driver's refused or reset connection
    (``OSError``, a time-out), or SQLAlchemy's wrapping of one."""
    if isinstance(exc, OperationalError) and isinstance(exc.orig, sqlite3.Error):
        return _sqlite_outage(exc.orig)
    if isinstance(exc, OSError | TimeoutError | OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


SQLITE_OUTAGES = ("unable to open database file", "disk i/o error", "database is locked")
"""What SQLite says when its file cannot be used; its other ``OperationalError`` s (no such table,
no such column) are bugs, answered 500."""


def _sqlite_outage(error: sqlite3.Error) -> bool:
    message = str(error).lower()
    return any(outage in message for outage in SQLITE_OUTAGES)
