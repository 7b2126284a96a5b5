"""``StoreKeys``, the gateway's keys over a real SQLite store: a key's last use is written at most
once a minute per key, whatever the number of handshakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from gateway.keys import KEY_USE_WRITE_INTERVAL_MS, StoreKeys
from store.database import Store, sqlite_url
from store.keys import create_key, list_keys, revoke_key
from store.models import utc_from_ms

T0 = 1_900_000_000_000


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        yield store


async def last_used(store: Store) -> dict[str, datetime | None]:
    async with store.sessionmaker() as session:
        return {k.key_id: k.last_used_at for k in await list_keys(session, "orders")}


async def test_last_use_is_written_once_a_minute_per_key(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        first, _ = await create_key(session, "orders")
        second, _ = await create_key(session, "orders")
    keys = StoreKeys(store)
    for second_no in range(60):  # a handshake a second for a minute
        await keys.record_use(first.key_id, T0 + second_no * 1_000)
    await keys.record_use(second.key_id, T0 + 30_000)
    assert await last_used(store) == {
        first.key_id: utc_from_ms(T0),
        second.key_id: utc_from_ms(T0 + 30_000),
    }
    await keys.record_use(first.key_id, T0 + KEY_USE_WRITE_INTERVAL_MS)
    assert (await last_used(store))[first.key_id] == utc_from_ms(T0 + KEY_USE_WRITE_INTERVAL_MS)


async def test_revoked_and_expired_keys_are_unusable(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        revoked, _ = await create_key(session, "orders")
        active, plaintext = await create_key(session, "orders")
        await revoke_key(session, "orders", revoked.key_id)
    keys = StoreKeys(store)
    assert await keys.verify("orders", plaintext) == active.key_id
    assert await keys.unusable([revoked.key_id, active.key_id]) == {revoked.key_id: "revoked"}
