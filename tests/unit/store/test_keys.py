"""API keys on a real SQLite file: create, verify, revoke, expire, last use, and keys of another
app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from store.database import Store, sqlite_url
from store.keys import (
    KeyState,
    create_key,
    list_keys,
    record_key_use,
    revoke_key,
    unusable_keys,
    verify_key,
)
from store.models import ApiKey, AuditRow
from streams.exceptions import AuthError

IN_A_DAY = datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        yield store


async def test_created_key_verifies_for_its_app(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        row, plaintext = await create_key(session, "orders", name="prod")
    assert plaintext.startswith(f"bk_{row.key_id}_")
    assert plaintext not in row.key_hash
    assert len(row.key_hash) == 64
    assert all(c.isalnum() or c in "_-" for c in plaintext)  # safe in a URL path segment
    async with store.sessionmaker.begin() as session:
        assert await verify_key(session, "orders", plaintext) == row.key_id
        listed = await list_keys(session, "orders")
    assert [(k.key_id, k.name, k.revoked_at, k.expires_at, k.last_used_at) for k in listed] == [
        (row.key_id, "prod", None, None, None)
    ]
    assert listed[0].created_at.tzinfo is not None


async def test_keys_are_distinct(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        first = await create_key(session, "orders")
        second = await create_key(session, "orders")
    assert first[0].key_id != second[0].key_id
    assert first[1] != second[1]


async def test_key_of_another_app_is_refused(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        _, plaintext = await create_key(session, "orders")
    async with store.sessionmaker.begin() as session:
        with pytest.raises(AuthError):
            await verify_key(session, "billing", plaintext)


@pytest.mark.parametrize(
    "presented",
    ["", "nonsense", "bk_", "bk_abc", "bk_abc_", "bk_0123456789ab_wrongsecret", "x" * 10_000],
)
async def test_unknown_or_malformed_key_is_refused(store: Store, presented: str) -> None:
    async with store.sessionmaker.begin() as session:
        await create_key(session, "orders")
    async with store.sessionmaker.begin() as session:
        with pytest.raises(AuthError):
            await verify_key(session, "orders", presented)


async def test_right_id_wrong_secret_is_refused(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        row, plaintext = await create_key(session, "orders")
    forged = f"bk_{row.key_id}_{'A' * 43}"
    assert forged != plaintext
    async with store.sessionmaker.begin() as session:
        with pytest.raises(AuthError):
            await verify_key(session, "orders", forged)


async def test_revoked_key_is_refused(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        row, plaintext = await create_key(session, "orders")
        kept, _ = await create_key(session, "orders")
    async with store.sessionmaker.begin() as session:
        assert await revoke_key(session, "orders", row.key_id) is True
    async with store.sessionmaker.begin() as session:
        assert await revoke_key(session, "orders", row.key_id) is False  # already revoked
        with pytest.raises(AuthError):
            await verify_key(session, "orders", plaintext)
        revoked = await unusable_keys(session, [row.key_id, kept.key_id, "gone"])
        listed = {k.key_id: k.revoked_at for k in await list_keys(session, "orders")}
    assert revoked == {row.key_id: KeyState.REVOKED, "gone": KeyState.REVOKED}
    assert listed[row.key_id] is not None
    assert listed[kept.key_id] is None


async def test_revoke_needs_the_right_app(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        row, plaintext = await create_key(session, "orders")
    async with store.sessionmaker.begin() as session:
        assert await revoke_key(session, "billing", row.key_id) is False
        assert await revoke_key(session, "orders", "unknown") is False
        assert await verify_key(session, "orders", plaintext) == row.key_id


async def test_unusable_keys_of_nothing(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        assert await unusable_keys(session, []) == {}


async def test_create_and_revoke_are_audited(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        row, _ = await create_key(session, "orders", name="ci")
        await revoke_key(session, "orders", row.key_id, actor="alice")
        expiring, _ = await create_key(session, "orders", expires_at=IN_A_DAY)
    async with store.sessionmaker.begin() as session:
        audit = (await session.scalars(select(AuditRow).order_by(AuditRow.id))).all()
    rows = [(a.action, a.actor, a.subject, a.app, (a.record or {}).get("params")) for a in audit]
    assert rows == [
        ("key.created", "cli", row.key_id, "orders", {"name": "ci"}),
        ("key.revoked", "alice", row.key_id, "orders", {}),
        ("key.created", "cli", expiring.key_id, "orders", {"expires_at": IN_A_DAY.isoformat()}),
    ]


@pytest.mark.parametrize("app", ["", "a b", "a/b", "é", "x" * 129, "../etc"])
async def test_invalid_app_names_are_rejected(store: Store, app: str) -> None:
    async with store.sessionmaker.begin() as session:
        with pytest.raises(ValueError, match="invalid app name"):
            await create_key(session, app)
        with pytest.raises(ValueError, match="invalid app name"):
            await list_keys(session, app)
        with pytest.raises(ValueError, match="invalid app name"):
            await revoke_key(session, app, "k")
        with pytest.raises(AuthError):
            await verify_key(session, app, "bk_a_b")
        assert (await session.scalars(select(ApiKey))).all() == []


@pytest.mark.parametrize("app", ["a", "Orders-v2.prod_1", "x" * 128])
async def test_valid_app_names_are_accepted(store: Store, app: str) -> None:
    async with store.sessionmaker.begin() as session:
        row, plaintext = await create_key(session, app)
        assert await verify_key(session, app, plaintext) == row.key_id


# -- expiry ---------------------------------------------------------------------------------------


async def test_a_key_works_until_its_expiry_then_is_refused_and_unusable(store: Store) -> None:
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    async with store.sessionmaker.begin() as session:
        row, plaintext = await create_key(session, "orders", expires_at=expires_at)
        forever, _ = await create_key(session, "orders")
    before, at = expires_at - timedelta(seconds=1), expires_at
    async with store.sessionmaker.begin() as session:
        assert await verify_key(session, "orders", plaintext, now=before) == row.key_id
        assert await unusable_keys(session, [row.key_id, forever.key_id], now=before) == {}
        with pytest.raises(AuthError):
            await verify_key(session, "orders", plaintext, now=at)
        assert await unusable_keys(session, [row.key_id, forever.key_id], now=at) == {
            row.key_id: KeyState.EXPIRED
        }
        [listed, _] = await list_keys(session, "orders")
    assert listed.expires_at == expires_at


async def test_revoked_wins_over_expired(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        row, _ = await create_key(session, "orders", expires_at=IN_A_DAY)
        await revoke_key(session, "orders", row.key_id)
    async with store.sessionmaker.begin() as session:
        later = IN_A_DAY + timedelta(days=1)
        assert await unusable_keys(session, [row.key_id], now=later) == {
            row.key_id: KeyState.REVOKED
        }


@pytest.mark.parametrize(
    "expires_at",
    [datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1)],
    ids=["in the past", "naive"],
)
async def test_an_expiry_must_be_an_aware_future_time(store: Store, expires_at: datetime) -> None:
    async with store.sessionmaker.begin() as session:
        with pytest.raises(ValueError, match="must be a time in the future"):
            await create_key(session, "orders", expires_at=expires_at)
        assert (await session.scalars(select(ApiKey))).all() == []


@pytest.mark.parametrize("name", ["", "x" * 257, "two\nlines", "bell\a", "tab\there"])
async def test_invalid_key_names_are_rejected(store: Store, name: str) -> None:
    async with store.sessionmaker.begin() as session:
        with pytest.raises(ValueError, match="invalid key name"):
            await create_key(session, "orders", name=name)


async def test_a_key_name_may_have_spaces_and_any_script(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        row, _ = await create_key(session, "orders", name="billing prod — Zürich")
    assert row.name == "billing prod — Zürich"


# -- last use -------------------------------------------------------------------------------------


async def test_last_use_only_moves_forward(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        row, _ = await create_key(session, "orders")
    first, earlier = datetime(2030, 1, 1, 12, tzinfo=UTC), datetime(2030, 1, 1, 11, tzinfo=UTC)
    for at in (first, earlier):
        async with store.sessionmaker.begin() as session:
            await record_key_use(session, row.key_id, at)
    async with store.sessionmaker.begin() as session:
        [listed] = await list_keys(session, "orders")
        await record_key_use(session, "unknown", first)  # a key that is gone: nothing to note
    assert listed.last_used_at == first
