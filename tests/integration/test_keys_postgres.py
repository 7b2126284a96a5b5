"""API keys on the real PostgreSQL: migration 0004 keeps each key's label as its name (and back),
expiry and last use round-trip timezone-aware, in a fresh database per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import text

from store.database import Store, alembic_config
from store.keys import KeyState, create_key, list_keys, record_key_use, unusable_keys, verify_key
from streams.exceptions import AuthError
from tests.integration.test_store_postgres import _fresh_database

pytestmark = pytest.mark.integration


async def test_0004_keeps_each_keys_label_as_its_name_both_ways() -> None:
    async with _fresh_database() as url:
        async with Store(url) as store, store.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0003"))
            await conn.execute(
                text(
                    "INSERT INTO api_keys (key_id, app, key_hash, created_at, label) "
                    "VALUES ('k1', 'orders', 'h', now(), 'prod')"
                )
            )
        async with Store(url) as store:  # upgrades to the newest revision again
            async with store.sessionmaker() as session:
                [key] = await list_keys(session, "orders")
            async with store.engine.begin() as conn:
                await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0003"))
                label = await conn.execute(text("SELECT label FROM api_keys"))
                assert label.scalar_one() == "prod"
    assert (key.key_id, key.name, key.expires_at, key.last_used_at) == ("k1", "prod", None, None)


async def test_expiry_and_last_use_round_trip() -> None:
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    used_at = datetime(2030, 1, 1, 12, tzinfo=UTC)
    async with _fresh_database() as url, Store(url) as store:
        async with store.sessionmaker.begin() as session:
            row, plaintext = await create_key(session, "orders", "eu", expires_at=expires_at)
            await record_key_use(session, row.key_id, used_at)
            await record_key_use(session, row.key_id, used_at - timedelta(minutes=1))
        async with store.sessionmaker() as session:
            assert await verify_key(session, "orders", plaintext) == row.key_id
            with pytest.raises(AuthError):
                await verify_key(session, "orders", plaintext, now=expires_at)
            assert await unusable_keys(session, [row.key_id], now=expires_at) == {
                row.key_id: KeyState.EXPIRED
            }
            [listed] = await list_keys(session, "orders")
    assert (listed.name, listed.expires_at, listed.last_used_at) == ("eu", expires_at, used_at)
    assert listed.expires_at is not None
    assert listed.expires_at.tzinfo is not None
