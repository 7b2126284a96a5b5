"""Whether a role can use its store: the ``store`` check of ``runtime.readiness``.

Must not import the gateway, the console, Faust or Kafka.
"""

from __future__ import annotations

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
    if isinstance(exc, OSError | TimeoutError | OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated
