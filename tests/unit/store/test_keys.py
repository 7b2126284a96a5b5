"""API keys on a real SQLite file: create, verify, revoke, and keys of another app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from store.database import Store, sqlite_url
from store.keys import create_key, list_keys, revoke_key, revoked_key_ids, verify_key
from store.models import ApiKey, AuditRow
from streams.exceptions import AuthError


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        yield store


async def test_created_key_verifies_for_its_app(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        row, plaintext = await create_key(session, "orders", label="prod")
    assert plaintext.startswith(f"bk_{row.key_id}_")
    assert plaintext not in row.key_hash
    assert len(row.key_hash) == 64
    assert all(c.isalnum() or c in "_-" for c in plaintext)  # safe in a URL path segment
    async with store.sessionmaker.begin() as session:
        assert await verify_key(session, "orders", plaintext) == row.key_id
        listed = await list_keys(session, "orders")
    assert [(k.key_id, k.label, k.revoked_at) for k in listed] == [(row.key_id, "prod", None)]
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
        revoked = await revoked_key_ids(session, [row.key_id, kept.key_id, "gone"])
        listed = {k.key_id: k.revoked_at for k in await list_keys(session, "orders")}
    assert revoked == {row.key_id, "gone"}
    assert listed[row.key_id] is not None
    assert listed[kept.key_id] is None


async def test_revoke_needs_the_right_app(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        row, plaintext = await create_key(session, "orders")
    async with store.sessionmaker.begin() as session:
        assert await revoke_key(session, "billing", row.key_id) is False
        assert await revoke_key(session, "orders", "unknown") is False
        assert await verify_key(session, "orders", plaintext) == row.key_id


async def test_revoked_key_ids_of_nothing(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        assert await revoked_key_ids(session, []) == set()


async def test_create_and_revoke_are_audited(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        row, _ = await create_key(session, "orders", label="ci")
        await revoke_key(session, "orders", row.key_id, actor="alice")
    async with store.sessionmaker.begin() as session:
        audit = (await session.scalars(select(AuditRow).order_by(AuditRow.id))).all()
    assert [(a.action, a.actor, a.subject, a.app) for a in audit] == [
        ("key.created", "cli", row.key_id, "orders"),
        ("key.revoked", "alice", row.key_id, "orders"),
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
