"""Console users: who may sign in, with which role, and their one-time sign-in codes.

A user has a name, a role (``store.roles``) and an argon2 password hash (``store.passwords``), or
no password yet: ``baton up`` makes its first admin so, with a one-time sign-in link. A sign-in
code is shown once and only its SHA-256 is kept; it works once, within its lifetime. Signing out
ends every session of the user (``sessions_valid_after``): the console's cookies are signed, not
stored, so that instant is what tells an old cookie from a live one.

Creating and deleting users, changing a role or password, and failed sign-ins write audit rows
(app ``NO_APP``), like key and token commands. Every function takes a session; the caller owns the
transaction. Must not import the gateway or the console.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.audit import admin_action, repeatable_row
from store.keys import hash_key
from store.models import NO_APP, TOKEN_NAME_MAX_CHARS, AuditRow, ConsoleUser, SignInCode
from store.passwords import hash_password, needs_rehash, password_matches
from store.projection import upsert_for
from store.roles import Role
from streams.records import ActionOutcome

logger = logging.getLogger(__name__)

FIRST_ADMIN = "admin"
"""The user ``baton up`` makes when the console has none."""
SIGNIN_CODE_TTL = timedelta(hours=24)
_NAME = re.compile(rf"[A-Za-z0-9_.@-]{{1,{TOKEN_NAME_MAX_CHARS}}}")
_USERS: Table = ConsoleUser.__table__  # type: ignore[assignment]
_PASSWORD_BYTES = 18
"""A generated password: 24 URL-safe characters."""


def validate_user_name(name: str) -> str:
    """Check a user name: 1 to 64 characters of ``[A-Za-z0-9_.@-]``.

    Raises:
        ValueError: the name is empty, too long, or has another character.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"invalid user name {name[: TOKEN_NAME_MAX_CHARS + 8]!r}: use 1 to "
            f"{TOKEN_NAME_MAX_CHARS} characters of letters, digits, '_', '.', '@' and '-'"
        )
    return name


async def create_user(
    session: AsyncSession,
    name: str,
    role: Role,
    *,
    password: str | None = None,
    with_password: bool = True,
    actor: str = "cli",
) -> str | None:
    """Create a user.

    Args:
        session: the caller's session; the caller commits.
        name: the user's name (the console's actor is ``user:<name>``).
        role: what the user may do.
        password: the password; None makes one (returned) when ``with_password``.
        with_password: False: no password (the user signs in with a sign-in link).
        actor: who creates it, for the audit row.

    Returns:
        The generated password (show it once), or None when none was generated.

    Raises:
        ValueError: the name or password is invalid, or the user exists.
    """
    validate_user_name(name)
    generated = secrets.token_urlsafe(_PASSWORD_BYTES) if with_password and not password else None
    chosen = password or generated
    now = datetime.now(UTC)
    stmt = upsert_for(session, _USERS).on_conflict_do_nothing(index_elements=["name"])
    inserted = await session.scalar(
        stmt.values(
            name=name,
            password_hash=None if chosen is None else hash_password(chosen),
            role=role.value,
            created_at=now,
            sessions_valid_after=now,
        ).returning(_USERS.c.name)
    )
    if inserted is None:
        raise ValueError(f"a user named {name!r} already exists: choose another name")
    session.add(_user_audit(name, "user.created", actor, now, {"role": role.value}))
    await session.flush()
    logger.info("console user %s created (%s)", name, role.value)
    return generated


async def first_admin_code(session: AsyncSession) -> str | None:
    """On a console with no users: make ``FIRST_ADMIN`` (no password) and a sign-in code for it.

    Returns:
        The code (show it once, in a link), or None when users exist (nothing is done).
    """
    if await session.scalar(select(func.count()).select_from(ConsoleUser)):
        return None
    try:
        await create_user(session, FIRST_ADMIN, Role.ADMIN, with_password=False, actor="baton up")
    except ValueError:
        return None  # another process made it first
    return await create_signin_code(session, FIRST_ADMIN)


async def create_signin_code(
    session: AsyncSession, name: str, *, ttl: timedelta = SIGNIN_CODE_TTL
) -> str:
    """A one-time sign-in code for an existing user.

    Raises:
        ValueError: no such user.
    """
    if await session.get(ConsoleUser, name) is None:
        raise ValueError(f"no user named {name!r}: create it with `baton users create {name}`")
    code = secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    session.add(
        SignInCode(code_hash=hash_key(code), user_name=name, expires_at=now + ttl, used_at=None)
    )
    await session.flush()
    return code


async def redeem_signin_code(session: AsyncSession, code: str) -> ConsoleUser | None:
    """The user a sign-in code is for, using the code up; None when it is unknown, used or
    expired. One conditional UPDATE: two redeemers of one code cannot both win."""
    now = datetime.now(UTC)
    result = await session.execute(
        update(SignInCode)
        .where(
            SignInCode.code_hash == hash_key(code),
            SignInCode.used_at.is_(None),
            SignInCode.expires_at > now,
        )
        .values(used_at=now)
        .returning(SignInCode.user_name)
    )
    name = result.scalar_one_or_none()
    return None if name is None else await session.get(ConsoleUser, name)


async def check_password(session: AsyncSession, name: str, password: str) -> ConsoleUser | None:
    """The user whose name and password these are; None otherwise (in the same time whether or
    not the name exists). A hash made with older parameters is replaced."""
    user = await session.get(ConsoleUser, name) if _NAME.fullmatch(name) else None
    stored = None if user is None else user.password_hash
    if not password_matches(stored, password) or user is None or stored is None:
        return None
    if needs_rehash(stored):
        user.password_hash = hash_password(password)
    return user


async def session_user(
    session: AsyncSession, name: str, started_at: datetime
) -> ConsoleUser | None:
    """The user of a session started at ``started_at``; None when the user is gone or signed out
    since."""
    user = await session.get(ConsoleUser, name)
    if user is None or started_at < user.sessions_valid_after:
        return None
    return user


async def end_sessions(session: AsyncSession, name: str) -> None:
    """Sign a user out everywhere: every session started until now is refused."""
    await session.execute(
        update(ConsoleUser)
        .where(ConsoleUser.name == name)
        .values(sessions_valid_after=datetime.now(UTC))
    )


async def set_password(
    session: AsyncSession, name: str, password: str | None = None, *, actor: str = "cli"
) -> str | None:
    """Set (or generate) a user's password; their sessions end.

    Returns:
        The generated password, or None when ``password`` was given.

    Raises:
        ValueError: no such user, or the password is invalid.
    """
    generated = None if password else secrets.token_urlsafe(_PASSWORD_BYTES)
    chosen = password or generated
    assert chosen is not None
    now = datetime.now(UTC)
    result = await session.execute(
        update(ConsoleUser)
        .where(ConsoleUser.name == name)
        .values(password_hash=hash_password(chosen), sessions_valid_after=now)
        .returning(ConsoleUser.name)
    )
    if result.scalar_one_or_none() is None:
        raise ValueError(f"no user named {name!r}")
    session.add(_user_audit(name, "user.password_changed", actor, now))
    return generated


async def set_role(session: AsyncSession, name: str, role: Role, *, actor: str = "cli") -> None:
    """Change a user's role (effective on their next request).

    Raises:
        ValueError: no such user.
    """
    now = datetime.now(UTC)
    result = await session.execute(
        update(ConsoleUser)
        .where(ConsoleUser.name == name)
        .values(role=role.value)
        .returning(ConsoleUser.name)
    )
    if result.scalar_one_or_none() is None:
        raise ValueError(f"no user named {name!r}")
    session.add(_user_audit(name, "user.role_changed", actor, now, {"role": role.value}))


async def delete_user(session: AsyncSession, name: str, *, actor: str = "cli") -> bool:
    """Delete a user (their sessions end with it) and their sign-in codes.

    Returns:
        False when there is no such user.
    """
    result = await session.execute(
        delete(ConsoleUser).where(ConsoleUser.name == name).returning(ConsoleUser.name)
    )
    if result.scalar_one_or_none() is None:
        return False
    await session.execute(delete(SignInCode).where(SignInCode.user_name == name))
    session.add(_user_audit(name, "user.deleted", actor, datetime.now(UTC)))
    return True


async def list_users(session: AsyncSession) -> list[ConsoleUser]:
    """Every user, by name."""
    return list(await session.scalars(select(ConsoleUser).order_by(ConsoleUser.name)))


def failed_signin_row(name: str, source: str, reason: str) -> AuditRow:
    """The audit row of a refused sign-in (outcome ``rejected``; the actor is the source)."""
    now = datetime.now(UTC)
    record = admin_action(
        app=NO_APP,
        actor=f"address:{source[:64]}",
        action="user.signin_failed",
        target=name[: TOKEN_NAME_MAX_CHARS + 8],
        now=now,
        params={"reason": reason},
    )
    return repeatable_row(replace(record, outcome=ActionOutcome.REJECTED, error=reason))


def _user_audit(
    name: str, action: str, actor: str, now: datetime, params: dict[str, Any] | None = None
) -> AuditRow:
    return repeatable_row(
        admin_action(app=NO_APP, actor=actor, action=action, target=name, now=now, params=params)
    )
