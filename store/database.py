"""The store's engine and session factory: URL parsing, SQLite tuning, schema creation.

Owns the one ``AsyncEngine`` of a process and its ``async_sessionmaker``. Query functions live
elsewhere and take a session. Schema creation is ``metadata.create_all`` until migrations exist.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from store.models import Base
from streams.exceptions import ConfigError

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another process's write to finish before failing."""

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def sqlite_url(path: Path) -> str:
    """The default store URL: a SQLite file (e.g. ``<data dir>/baton.db``)."""
    return f"sqlite+aiosqlite:///{path}"


def parse_url(url: str) -> URL:
    """Parse a store URL and pick Baton's async driver for it.

    Accepts ``sqlite:///path``, ``sqlite+aiosqlite:///path``, ``postgresql://...`` (or
    ``postgres://``) and ``postgresql+asyncpg://...``.

    Raises:
        ConfigError: the URL does not parse, or names another database or driver.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"invalid store URL {_masked(url)!r}: expected sqlite:///PATH or "
            "postgresql://USER@HOST/DB"
        ) from exc
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ConfigError(
            f"unsupported store URL scheme {parsed.drivername!r}: use sqlite:///PATH "
            "(sqlite+aiosqlite) or postgresql://USER@HOST/DB (postgresql+asyncpg)"
        )
    if driver.startswith("postgresql") and not parsed.database:
        raise ConfigError(f"store URL {_masked(url)!r} names no database")
    return parsed.set(drivername=driver)


def _masked(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1]  # never echo what might be a password


def _is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the console read while the worker writes; the busy timeout makes a second writer
    # (CLI, gateway, worker: separate processes) wait for the lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS:d}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _create_engine(url: URL) -> AsyncEngine:
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True)
    if _is_memory(url):
        # One shared connection, or every session would see its own empty database.
        engine = create_async_engine(url, poolclass=StaticPool)
    else:
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


async def _create_schema(engine: AsyncEngine, attempts: int = 5) -> None:
    """Create missing tables. Several roles start at once on one database: when another
    process creates a table between our check and our CREATE, the next attempt sees it."""
    for attempt in range(1, attempts + 1):
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == attempts:
                raise
            await asyncio.sleep(0.1 * attempt)
        else:
            return


class Store:
    """The SQL store of one process: an engine, its session factory and the schema.

    Use as ``async with Store(url) as store:``; sessions come from ``store.sessionmaker``, and
    the caller opens the transaction (``async with store.sessionmaker.begin() as session:``).
    """

    def __init__(self, url: str) -> None:
        """Check the URL; nothing is opened until ``start()``.

        Raises:
            ConfigError: the URL is invalid or names an unsupported database.
        """
        self._url = parse_url(url)
        self._engine: AsyncEngine | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None

    @property
    def url(self) -> URL:
        """The normalised URL (async driver)."""
        return self._url

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._url.get_backend_name()

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the store is not started")
        return self._engine

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """The session factory (``expire_on_commit=False``)."""
        if self._sessionmaker is None:
            raise RuntimeError("the store is not started")
        return self._sessionmaker

    async def start(self) -> None:
        """Open the engine and create any missing table."""
        if self._engine is not None:
            return
        engine = _create_engine(self._url)
        try:
            await _create_schema(engine)
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine
        self._sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        logger.debug("store opened: %s", self._url.render_as_string(hide_password=True))

    async def stop(self) -> None:
        """Close every pooled connection; safe to call twice."""
        engine, self._engine, self._sessionmaker = self._engine, None, None
        if engine is not None:
            await engine.dispose()
            logger.debug("store closed")

    async def __aenter__(self) -> Store:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
