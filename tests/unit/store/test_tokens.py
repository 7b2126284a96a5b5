"""Operator tokens on a real SQLite file: create (shown once), verify, list, revoke, audit rows,
and the ``baton tokens`` commands that manage them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from baton.cli import build_parser, dispatch, settings_from
from store.database import Store, sqlite_url
from store.keys import hash_key
from store.models import AuditRow, OperatorToken
from store.roles import Role
from store.tokens import create_token, list_tokens, revoke_token, verify_token


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        yield store


async def create(store: Store, name: str) -> str:
    async with store.sessionmaker.begin() as session:
        return await create_token(session, name)


async def verify(store: Store, token: str) -> str | None:
    """The name a token verifies as (its role aside)."""
    async with store.sessionmaker() as session:
        found = await verify_token(session, token)
    return None if found is None else found[0]


async def revoke(store: Store, name: str) -> bool:
    async with store.sessionmaker.begin() as session:
        return await revoke_token(session, name)


async def test_a_created_token_verifies_as_its_name(store: Store) -> None:
    token = await create(store, "alice")
    assert token.startswith("btn_")
    assert len(token) > 40
    assert all(c.isalnum() or c in "_-" for c in token)  # safe in a header and a shell
    assert await verify(store, token) == "alice"
    async with store.sessionmaker() as session:
        [row] = await list_tokens(session)
    assert (row.name, row.revoked_at) == ("alice", None)
    assert row.token_hash == hash_key(token)  # only the hash is stored
    assert token not in row.token_hash
    assert row.created_at.tzinfo is not None


async def test_a_token_carries_its_role_and_operator_is_the_default(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        viewer = await create_token(session, "watcher", role=Role.VIEWER)
        default = await create_token(session, "deployer")
    async with store.sessionmaker() as session:
        assert await verify_token(session, viewer) == ("watcher", Role.VIEWER)
        assert await verify_token(session, default) == ("deployer", Role.OPERATOR)


async def test_tokens_are_distinct_and_listed_by_name(store: Store) -> None:
    bob = await create(store, "bob")
    alice = await create(store, "alice")
    assert bob != alice
    assert await verify(store, bob) == "bob"
    async with store.sessionmaker() as session:
        assert [t.name for t in await list_tokens(session)] == ["alice", "bob"]


@pytest.mark.parametrize("presented", ["", "btn_", "btn_nope", "bk_abc_def", "x" * 10_000])
async def test_unknown_tokens_verify_as_nobody(store: Store, presented: str) -> None:
    await create(store, "alice")
    assert await verify(store, presented) is None


async def test_a_revoked_token_verifies_as_nobody(store: Store) -> None:
    token = await create(store, "alice")
    assert await revoke(store, "alice")
    assert await verify(store, token) is None
    assert not await revoke(store, "alice")  # already revoked
    assert not await revoke(store, "nobody")
    async with store.sessionmaker() as session:
        [row] = await list_tokens(session)
    assert row.revoked_at is not None


async def test_a_name_is_never_reused(store: Store) -> None:
    await create(store, "alice")
    with pytest.raises(ValueError, match="'alice' already exists"):
        await create(store, "alice")
    await revoke(store, "alice")
    with pytest.raises(ValueError, match="a revoked token keeps its name"):
        await create(store, "alice")
    async with store.sessionmaker() as session:
        assert len(await list_tokens(session)) == 1


@pytest.mark.parametrize("name", ["", "a" * 65, "with space", "slash/y", "tab\t", "é"])
async def test_invalid_names_are_refused(store: Store, name: str) -> None:
    with pytest.raises(ValueError, match="invalid token name"):
        await create(store, name)


async def test_creating_and_revoking_are_audited(store: Store) -> None:
    token = await create(store, "alice")
    await revoke(store, "alice")
    await revoke(store, "alice")
    async with store.sessionmaker() as session:
        rows = list(await session.scalars(select(AuditRow).order_by(AuditRow.id)))
    assert [(r.app, r.actor, r.action, r.subject, r.outcome) for r in rows] == [
        ("", "cli", "token.created", "alice", "succeeded"),
        ("", "cli", "token.revoked", "alice", "succeeded"),
    ]
    assert all(token not in str(r.record) for r in rows)


# -- the CLI ---------------------------------------------------------------------------------------


def baton(tmp_path: Path, *argv: str) -> int:
    url = sqlite_url(tmp_path / "baton.db")
    args = build_parser().parse_args([*argv, "--data-dir", str(tmp_path), "--database-url", url])
    return dispatch(args, settings_from(args))


def test_baton_tokens_create_list_revoke(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert baton(tmp_path, "tokens", "create", "alice") == 0
    out = capsys.readouterr().out
    token = out.splitlines()[-1]  # the token is the last line
    assert token.startswith("btn_")
    assert "shown once" in out
    assert asyncio.run(verify_in(tmp_path, token)) == "alice"

    assert baton(tmp_path, "tokens", "list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["name", "role", "created_at", "revoked_at"]
    assert listing[1].split()[:2] == ["alice", "operator"]
    assert token not in "\n".join(listing)

    assert baton(tmp_path, "tokens", "revoke", "alice") == 0
    assert "Revoked API token alice" in capsys.readouterr().out
    assert asyncio.run(verify_in(tmp_path, token)) is None
    assert baton(tmp_path, "tokens", "revoke", "alice") == 1
    assert "no active operator token alice" in capsys.readouterr().out


def test_baton_tokens_create_refuses_a_taken_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert baton(tmp_path, "tokens", "create", "alice") == 0
    capsys.readouterr()
    assert baton(tmp_path, "tokens", "create", "alice") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "baton: an operator token named 'alice' already exists" in captured.err
    assert baton(tmp_path, "tokens", "create", "bad name") == 2
    assert "invalid token name" in capsys.readouterr().err


async def verify_in(tmp_path: Path, token: str) -> str | None:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        return await verify(store, token)


async def test_a_token_row_has_no_plaintext_column() -> None:
    assert {c.name for c in OperatorToken.__table__.c} == {
        "name",
        "role",
        "token_hash",
        "created_at",
        "revoked_at",
    }
