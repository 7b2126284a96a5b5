"""The store's Alembic migrations on SQLite: they build exactly the models' schema, a database
created by ``create_all`` is stamped and upgraded, concurrent starts are safe, and they go down."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from store.database import BASELINE_TABLES, Store, alembic_config, sqlite_url
from store.keys import create_key, list_keys
from store.models import Base
from streams.exceptions import ConfigError

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def create_all_baseline(connection: Connection, tables: frozenset[str] = BASELINE_TABLES) -> None:
    """What Baton did before it had migrations: create_all of the tables it had then."""
    Base.metadata.create_all(connection, tables=[Base.metadata.tables[t] for t in sorted(tables)])


def test_revisions_form_one_line() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert [r.revision for r in script.walk_revisions()] == [
        "0008",
        "0007",
        "0006",
        "0005",
        "0004",
        "0003",
        "0002",
        "0001",
    ]
    assert HEAD == "0008"


@pytest.mark.parametrize("memory", [True, False])
async def test_migrated_schema_matches_the_models(tmp_path: Path, memory: bool) -> None:
    url = "sqlite+aiosqlite://" if memory else sqlite_url(tmp_path / "baton.db")
    async with Store(url) as store, store.engine.connect() as conn:
        assert await conn.run_sync(schema_differences) == []
        assert await conn.run_sync(current_revision) == HEAD


async def test_a_create_all_database_is_stamped_then_upgraded(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "baton.db")
    legacy = create_async_engine(url)
    async with legacy.begin() as conn:
        await conn.run_sync(create_all_baseline)
    await legacy.dispose()
    async with Store(url) as store, store.sessionmaker.begin() as session:
        await create_key(session, "orders", name="before")
    async with Store(url) as store:  # a second start changes nothing
        async with store.engine.connect() as conn:
            assert await conn.run_sync(current_revision) == HEAD
            assert await conn.run_sync(schema_differences) == []
        async with store.sessionmaker() as session:
            assert [k.name for k in await list_keys(session, "orders")] == ["before"]


async def test_part_of_the_baseline_is_refused(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "baton.db")
    legacy = create_async_engine(url)
    async with legacy.begin() as conn:
        await conn.run_sync(create_all_baseline, frozenset({"api_keys"}))
    await legacy.dispose()
    with pytest.raises(ConfigError, match="some of Baton's tables"):
        await Store(url).start()


async def test_concurrent_starts_on_one_file(tmp_path: Path) -> None:
    # Separate engines stand in for the worker, gateway, console and CLI starting together.
    url = sqlite_url(tmp_path / "baton.db")
    stores = [Store(url) for _ in range(6)]
    try:
        # Not gather: a start that fails would leave the others running past the stops below,
        # to open engines nothing disposes (their aiosqlite connections then left to the GC).
        async with asyncio.TaskGroup() as starts:
            for store in stores:
                starts.create_task(store.start())
        async with stores[0].engine.connect() as conn:
            assert await conn.run_sync(current_revision) == HEAD
            versions = await conn.execute(text("SELECT count(*) FROM alembic_version"))
            assert versions.scalar_one() == 1
    finally:
        for store in stores:
            await store.stop()


async def test_downgrade_to_nothing_and_up_again(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "baton.db")
    async with Store(url) as store, store.engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0001"))
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables == {*BASELINE_TABLES, "alembic_version"}
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "base"))
        assert await conn.run_sync(lambda c: inspect(c).get_table_names()) == ["alembic_version"]
    async with Store(url) as store, store.engine.connect() as conn:
        assert await conn.run_sync(schema_differences) == []


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "baton.db")
    async with Store(url) as store, store.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(ConfigError, match="revision 9999, which this Baton does not know"):
        await Store(url).start()


async def test_0004_keeps_each_keys_label_as_its_name_both_ways(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "baton.db")
    async with Store(url) as store, store.engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0003"))
        await conn.execute(
            text(
                "INSERT INTO api_keys (key_id, app, key_hash, created_at, label) "
                "VALUES ('k1', 'orders', 'h', '2024-01-01 00:00:00', 'prod')"
            )
        )
    async with Store(url) as store:  # upgrades to the newest revision again
        async with store.sessionmaker() as session:
            [key] = await list_keys(session, "orders")
        async with store.engine.begin() as conn:
            assert await conn.run_sync(schema_differences) == []
            assert await conn.run_sync(lambda c: inspect(c).get_indexes("api_keys")) != []
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0003"))
            label = await conn.execute(text("SELECT label FROM api_keys WHERE key_id = 'k1'"))
            assert label.scalar_one() == "prod"
    assert (key.key_id, key.name, key.expires_at, key.last_used_at) == ("k1", "prod", None, None)
