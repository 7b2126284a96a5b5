"""The store's URL handling, SQLite settings and lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.database import Store, _check_connection, parse_url, sqlite_url
from store.keys import create_key
from streams.exceptions import ConfigError, DatabaseUnreachable


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///data/baton.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///data/baton.db", "sqlite+aiosqlite"),
        ("postgresql://postgres@127.0.0.1/baton", "postgresql+asyncpg"),
        ("postgres://postgres@127.0.0.1/baton", "postgresql+asyncpg"),
        ("postgresql+asyncpg://postgres@127.0.0.1/baton", "postgresql+asyncpg"),
    ],
)
def test_urls_get_the_async_driver(url: str, driver: str) -> None:
    assert parse_url(url).drivername == driver


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "invalid store URL"),
        ("mysql://root@localhost/baton", "unsupported store URL scheme 'mysql'"),
        ("postgresql+psycopg2://u@h/db", "unsupported store URL scheme"),
        ("postgresql://user@localhost", "names no database"),
    ],
)
def test_bad_urls_raise_config_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Store(url)


def test_bad_url_error_hides_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        Store("postgresql://user:hunter2@localhost")
    assert "hunter2" not in str(info.value)


async def test_sqlite_file_uses_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "baton.db"
    async with Store(f"sqlite:///{path}") as store, store.sessionmaker() as session:
        mode = await session.scalar(text("PRAGMA journal_mode"))
        timeout = await session.scalar(text("PRAGMA busy_timeout"))
    assert path.exists()
    assert mode == "wal"
    assert timeout == 10_000


async def test_two_stores_share_one_file(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "baton.db")
    async with Store(url) as first, Store(url) as second:
        async with first.sessionmaker.begin() as session:
            await session.execute(text("CREATE TABLE probe (x INTEGER)"))
            await session.execute(text("INSERT INTO probe VALUES (1)"))
        async with second.sessionmaker.begin() as session:
            assert await session.scalar(text("SELECT x FROM probe")) == 1


async def test_stop_is_idempotent_and_sessions_need_a_started_store(tmp_path: Path) -> None:
    store = Store(sqlite_url(tmp_path / "baton.db"))
    with pytest.raises(RuntimeError, match="not started"):
        _ = store.sessionmaker
    await store.start()
    await store.start()
    await store.stop()
    await store.stop()
    with pytest.raises(RuntimeError, match="not started"):
        _ = store.sessionmaker


async def test_in_memory_sqlite_keeps_one_database() -> None:
    async with Store("sqlite+aiosqlite://") as store:
        async with store.sessionmaker.begin() as session:
            await session.execute(text("CREATE TABLE probe (x INTEGER)"))
        async with store.sessionmaker() as session:
            assert await session.scalar(text("SELECT count(*) FROM probe")) == 0


async def test_concurrent_writers_wait_for_each_other(tmp_path: Path) -> None:
    # Two engines on one file stand in for two processes: the busy timeout, not luck, orders them.
    url = sqlite_url(tmp_path / "baton.db")
    async with Store(url) as first, Store(url) as second:

        async def write(store: Store, n: int) -> None:
            for i in range(20):
                async with store.sessionmaker.begin() as session:
                    await create_key(session, f"app{n}", name=str(i))

        await asyncio.gather(*(write(s, n) for n, s in enumerate((first, second, first, second))))
        async with first.sessionmaker() as session:
            assert await session.scalar(text("SELECT count(*) FROM api_keys")) == 80


async def test_a_database_server_that_refuses_is_one_error_without_the_password() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DatabaseUnreachable) as caught:
        await Store(f"postgresql://baton:hunter2@127.0.0.1:{port}/baton").start()
    assert caught.value.url == f"postgresql+asyncpg://baton:***@127.0.0.1:{port}/baton"
    assert "hunter2" not in str(caught.value)
    assert "--database-url" in caught.value.fix
    assert caught.value.retriable


async def test_a_sqlite_file_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(DatabaseUnreachable, match="--data-dir"):
        await Store(sqlite_url(tmp_path / "file" / "baton.db")).start()


class _LockedAtFirst:
    """An engine whose first ``fails`` connections fail as SQLite's switch to WAL does when
    another connection switches the same new file at that moment."""

    def __init__(self, fails: int, message: str = "database is locked") -> None:
        self.fails = fails
        self.message = message
        self.attempts = 0

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[None]:
        self.attempts += 1
        if self.attempts <= self.fails:
            orig = sqlite3.OperationalError(self.message)
            raise OperationalError("PRAGMA journal_mode=WAL", None, orig)
        yield


async def test_a_first_connection_refused_as_locked_is_tried_again() -> None:
    url = parse_url(sqlite_url(Path("/tmp/baton-never-opened.db")))
    engine = _LockedAtFirst(fails=2)
    await _check_connection(cast(AsyncEngine, engine), url)
    assert engine.attempts == 3

    always = _LockedAtFirst(fails=99)
    with pytest.raises(DatabaseUnreachable, match="database is locked"):
        await _check_connection(cast(AsyncEngine, always), url, attempts=3)
    assert always.attempts == 3

    other = _LockedAtFirst(fails=1, message="unable to open database file")
    with pytest.raises(DatabaseUnreachable, match="unable to open"):
        await _check_connection(cast(AsyncEngine, other), url)
    assert other.attempts == 1  # only a lock is worth another try
