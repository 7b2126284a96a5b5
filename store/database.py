"""The store's engine and session factory: URL parsing, SQLite tuning, schema migrations.

Owns the one ``AsyncEngine`` of a process and its ``async_sessionmaker``, and brings the schema to
the newest Alembic revision (``store/migrations``) when a store starts. Query functions live
elsewhere and take a session. Imports the models and ``streams.exceptions``; must not import the
gateway, the console, Faust or Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from runtime.private_files import PRIVATE_DIR_MODE, private_file, tighten
from streams.exceptions import ConfigError, DatabaseRefused, DatabaseUnreachable, StartupError

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another process's write to finish before failing."""

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BASELINE_REVISION = "0001"
"""The schema Baton created with ``metadata.create_all`` before it had migrations."""
BASELINE_TABLES = frozenset({"api_keys", "executors", "recoveries", "audit_log"})

_MIGRATION_LOCK_ID = 0x6261746F6E  # "baton": the PostgreSQL advisory lock of schema upgrades

_URL_SETTING = "--database-url (or BATON_DATABASE_URL)"
_URL_SHAPES = (
    "sqlite:///PATH (sqlite+aiosqlite) or postgresql://USER:PASSWORD@HOST/DB (postgresql+asyncpg)"
)

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
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        # From None: the cause quotes the whole URL, password included.
        raise ConfigError(
            f"invalid store URL {_masked(url)!r}", fix=f"give {_URL_SETTING} {_URL_SHAPES}"
        ) from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ConfigError(
            f"unsupported store URL scheme {parsed.drivername!r}",
            fix=f"give {_URL_SETTING} {_URL_SHAPES}",
        )
    if driver.startswith("postgresql") and not parsed.database:
        raise ConfigError(
            f"store URL {_masked(url)!r} names no database",
            fix=f"end {_URL_SETTING} with /DATABASE",
        )
    return parsed.set(drivername=driver)


def _masked(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        # Never echo what might be a password: the scheme and what follows the last "@" at most.
        scheme, sep, rest = url.partition("://")
        if not sep:
            return "..."
        _, at, host = rest.rpartition("@")
        return f"{scheme}://...{at}{host if at else ''}"


def _is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the console read while the worker writes; the busy timeout makes a second writer
    # (CLI, gateway, worker: separate processes) wait for the lock instead of failing at once.
    # The busy timeout first: switching to WAL takes the file's lock, and without a timeout a
    # process starting while another holds it fails at once with "database is locked".
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS:d}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _private_sqlite_file(path: Path) -> None:
    """Create the database file owner-only before SQLite does, and tighten one left open.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode, so they follow. A
    missing directory is created owner-only; an existing one is the data directory's business
    (``baton.data_dir``) or the user's.
    """
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    tightened = [
        p
        for p in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm"))
        if (private_file(p) if p == path else tighten(p)) is not None
    ]
    if tightened:
        logger.warning(
            "the store's files %s were open to other users: made them private to their owner",
            ", ".join(p.name for p in tightened),
            extra={"store_file": str(path)},
        )


def _create_engine(url: URL) -> AsyncEngine:
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True)
    if _is_memory(url):
        # One shared connection, or every session would see its own empty database.
        engine = create_async_engine(url, poolclass=StaticPool)
    else:
        if url.database:
            _private_sqlite_file(Path(url.database))
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


def alembic_config(connection: Connection | None = None) -> Config:
    """The store's Alembic configuration, built in code (there is no ``alembic.ini``).

    Args:
        connection: the connection ``store/migrations/env.py`` runs the revisions on.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    """Bring the schema to the newest revision; runs inside the transaction holding the lock."""
    config = alembic_config(connection)
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    current = MigrationContext.configure(connection).get_current_revision()
    if current == head:
        return
    if current is not None and current not in {r.revision for r in script.walk_revisions()}:
        raise ConfigError(
            f"the store schema is at revision {current}, which this Baton does not know (its "
            f"newest is {head}): a newer Baton migrated it",
            fix="upgrade this Baton, or point it at another store",
        )
    if current is None:
        _stamp_if_created_by_create_all(connection, config)
    logger.info("upgrading the store schema from %s to %s", current or "nothing", head)
    command.upgrade(config, "head")


def _stamp_if_created_by_create_all(connection: Connection, config: Config) -> None:
    tables = set(inspect(connection).get_table_names())
    found = tables & BASELINE_TABLES
    if not found:
        return
    if found != BASELINE_TABLES:
        raise ConfigError(
            f"the store database has some of Baton's tables ({', '.join(sorted(found))}) but "
            "not all and no alembic_version table: it is not a Baton database, or a damaged one",
            fix=f"point {_URL_SETTING} at an empty database or at Baton's own",
        )
    logger.info("store schema predates migrations: stamping revision %s", BASELINE_REVISION)
    command.stamp(config, BASELINE_REVISION)


async def _migrate(engine: AsyncEngine, attempts: int = 5) -> None:
    """Upgrade the schema to the newest revision, one process at a time.

    Several roles open one database at once. PostgreSQL: a transaction-scoped advisory lock
    serialises them, and the whole upgrade is one transaction (DDL is transactional). SQLite:
    ``BEGIN IMMEDIATE`` takes the write lock before reading the version, waiting up to the busy
    timeout; Python's sqlite3 would otherwise run each DDL statement in its own transaction. A
    lock wait longer than the timeout is retried.
    """
    for attempt in range(1, attempts + 1):
        try:
            async with engine.connect() as conn:
                if conn.dialect.name == "sqlite":
                    await conn.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                    )
                await conn.run_sync(_upgrade)
                await conn.commit()
        except OperationalError:
            if attempt == attempts:
                raise
            await asyncio.sleep(0.1 * attempt)
        else:
            return


def _open_engine(url: URL) -> AsyncEngine:
    """The engine for ``url``; a SQLite file's directory is created if missing.

    Raises:
        DatabaseUnreachable: the SQLite file's directory cannot be created.
    """
    try:
        return _create_engine(url)
    except OSError as exc:
        raise _connect_error(url, exc) from exc


async def _check_connection(engine: AsyncEngine, url: URL, attempts: int = 5) -> None:
    """Open one connection, so that a database the user cannot reach is one clear error.

    A SQLite file that several processes open at once for the first time is retried: the
    connection's ``PRAGMA journal_mode=WAL`` (``_set_sqlite_pragmas``) can fail at once with
    "database is locked" while another connection switches the file to WAL, without waiting for
    the busy timeout (seen with SQLite 3.40 when six connections open a new file together).
    """
    for attempt in range(1, attempts + 1):
        try:
            async with engine.connect():
                return
        except OperationalError as exc:
            if attempt == attempts or not _sqlite_locked(exc):
                raise _connect_error(url, exc) from exc
        except (OSError, TimeoutError, DBAPIError) as exc:
            raise _connect_error(url, exc) from exc
        await asyncio.sleep(0.05 * attempt)


def _sqlite_locked(exc: OperationalError) -> bool:
    return isinstance(exc.orig, sqlite3.OperationalError) and "database is locked" in str(exc.orig)


def _connect_error(url: URL, exc: BaseException) -> StartupError:
    """The user's error for a failed first connection; the URL's password never shows."""
    masked = url.render_as_string(hide_password=True)
    reason = str(exc.orig) if isinstance(exc, DBAPIError) else (str(exc) or type(exc).__name__)
    if url.password:
        reason = reason.replace(str(url.password), "***")
    if url.get_backend_name() == "sqlite":
        return DatabaseUnreachable(
            masked,
            reason,
            fix="make the file's directory writable, or pass another --data-dir (or "
            "BATON_DATA_DIR)",
        )
    if isinstance(exc, DBAPIError):
        return DatabaseRefused(
            masked,
            reason,
            fix=f"create the database (e.g. `createdb`) or correct the user, password or "
            f"database name in {_URL_SETTING}",
        )
    return DatabaseUnreachable(
        masked,
        reason,
        fix=f"start PostgreSQL there, or correct the host and port in {_URL_SETTING}",
    )


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
        """Open the engine and upgrade the schema to the newest migration.

        Raises:
            DatabaseUnreachable: the database server (or the SQLite file) cannot be reached.
            DatabaseRefused: the server refused: no such database or user, a wrong password.
            ConfigError: the database holds part of Baton's schema but no migration version, or
                a newer Baton's schema.
        """
        if self._engine is not None:
            return
        engine = _open_engine(self._url)
        try:
            await _check_connection(engine, self._url)
            await _migrate(engine)
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
