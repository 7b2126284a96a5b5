"""Operator tokens: the console's API credentials (``Authorization: Bearer <token>``).

A token is ``btn_<secret>``, shown once at creation; only its SHA-256 is stored (hashed as
executor API keys are, by ``store.keys.hash_key``). The console knows its holder as
``token:<name>``. Creating and revoking a token write an audit row (app ``NO_APP``). Every function
takes a session; the caller owns the transaction. Must not import the gateway or the console.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import UTC, datetime

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.audit import admin_action, unpublished_row
from store.keys import hash_key
from store.models import NO_APP, TOKEN_NAME_MAX_CHARS, AuditRow, OperatorToken
from store.projection import upsert_for
from store.roles import Role

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "btn_"
_SECRET_BYTES = 32
_NAME = re.compile(rf"[A-Za-z0-9_.-]{{1,{TOKEN_NAME_MAX_CHARS}}}")
_TOKENS: Table = OperatorToken.__table__  # type: ignore[assignment]


def validate_token_name(name: str) -> str:
    """Check a token name: 1 to 64 characters of ``[A-Za-z0-9_.-]``.

    Raises:
        ValueError: the name is empty, too long, or has another character.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"invalid token name {name[: TOKEN_NAME_MAX_CHARS + 8]!r}: use 1 to "
            f"{TOKEN_NAME_MAX_CHARS} characters of letters, digits, '_', '.' and '-'"
        )
    return name


async def create_token(
    session: AsyncSession, name: str, *, role: Role = Role.OPERATOR, actor: str = "cli"
) -> str:
    """Create an API token.

    Args:
        session: the caller's session; the caller commits.
        name: the token's name (the console's actor is ``token:<name>``).
        role: what the token may do.
        actor: who creates it, for the audit row.

    Returns:
        The plaintext token. It is not stored: show it once.

    Raises:
        ValueError: the name is invalid, or a token (revoked or not) already has it.
    """
    validate_token_name(name)
    # token_urlsafe uses [A-Za-z0-9_-] only: the token is safe in a header and a shell.
    plaintext = f"{TOKEN_PREFIX}{secrets.token_urlsafe(_SECRET_BYTES)}"
    now = datetime.now(UTC)
    # Insert-or-skip rather than read-then-insert: of two creators of one name, one wins cleanly.
    stmt = upsert_for(session, _TOKENS).on_conflict_do_nothing(index_elements=["name"])
    inserted = await session.scalar(
        stmt.values(
            name=name,
            token_hash=hash_key(plaintext),
            created_at=now,
            revoked_at=None,
            role=role.value,
        ).returning(_TOKENS.c.name)
    )
    if inserted is None:
        raise ValueError(
            f"an operator token named {name!r} already exists (a revoked token keeps its name): "
            "choose another name"
        )
    session.add(_token_audit(name, "token.created", actor, now, {"role": role.value}))
    await session.flush()
    logger.info("operator token %s created", name)
    return plaintext


async def verify_token(session: AsyncSession, token: str) -> tuple[str, Role] | None:
    """The name and role of a presented token.

    Returns:
        The token's name and role; ``None`` when the token is unknown or revoked (the caller
        answers 401 either way, without saying which).
    """
    # The lookup is by the hash of the whole token: its timing says nothing about the secret.
    result = await session.execute(
        select(OperatorToken.name, OperatorToken.revoked_at, OperatorToken.role).where(
            OperatorToken.token_hash == hash_key(token)
        )
    )
    found = result.one_or_none()
    if found is None:
        return None
    name, revoked_at, role = found
    return (name, Role(role)) if revoked_at is None else None


async def list_tokens(session: AsyncSession) -> list[OperatorToken]:
    """Every operator token, revoked ones included, by name."""
    return list(await session.scalars(select(OperatorToken).order_by(OperatorToken.name)))


async def revoke_token(session: AsyncSession, name: str, *, actor: str = "cli") -> bool:
    """Revoke an operator token; the console refuses it from its next request on.

    Returns:
        True if the token was revoked now; False if there is no such token or it was revoked
        already.
    """
    now = datetime.now(UTC)
    # One conditional UPDATE (as store.keys.revoke_key): two revokers cannot both win.
    result = await session.execute(
        update(OperatorToken)
        .where(OperatorToken.name == name, OperatorToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(OperatorToken.name)
    )
    if result.scalar_one_or_none() is None:
        return False
    session.add(_token_audit(name, "token.revoked", actor, now))
    await session.flush()
    logger.info("operator token %s revoked", name)
    return True


def _token_audit(
    name: str, action: str, actor: str, now: datetime, params: dict[str, str] | None = None
) -> AuditRow:
    # A name is never reused (revoked tokens keep theirs), so name and action identify the event.
    return unpublished_row(
        admin_action(app=NO_APP, actor=actor, action=action, target=name, now=now, params=params)
    )
