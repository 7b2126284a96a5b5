"""Executor API keys: creation (shown once), listing, revocation, expiry and verification.

A key is ``bk_<key_id>_<secret>``; only its SHA-256 is stored, and it grants exactly one app until
it is revoked or its optional expiry passes. Every function takes a session; the caller owns the
transaction. Creating and revoking a key also write an audit row. Must not import the gateway or
the console.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.audit import admin_action, unpublished_row
from store.models import KEY_NAME_MAX_CHARS, ApiKey, AuditRow, validate_app_name
from streams.exceptions import AuthError

logger = logging.getLogger(__name__)

KEY_PREFIX = "bk_"
_KEY_ID_BYTES = 6
"""12 hex characters: short enough to type, and never an underscore (the key's separator)."""
_SECRET_BYTES = 32

_DUMMY_HASH = hashlib.sha256(b"baton: no such key").hexdigest()


class KeyState(StrEnum):
    """Whether a key may be used; the gateway closes the sessions of a key that may not."""

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


def key_state(row: ApiKey, now: datetime) -> KeyState:
    """A key's state at ``now``: revoked wins over expired."""
    if row.revoked_at is not None:
        return KeyState.REVOKED
    if row.expires_at is not None and row.expires_at <= now:
        return KeyState.EXPIRED
    return KeyState.ACTIVE


def validate_key_name(name: str) -> str:
    """Check a key's name: 1 to 256 printable characters (spaces allowed).

    Raises:
        ValueError: the name is empty, too long, or has a control character.
    """
    if not 0 < len(name) <= KEY_NAME_MAX_CHARS or not name.isprintable():
        raise ValueError(
            f"invalid key name {name[: KEY_NAME_MAX_CHARS + 8]!r}: use 1 to "
            f"{KEY_NAME_MAX_CHARS} printable characters"
        )
    return name


def hash_key(plaintext: str) -> str:
    """The stored form of a key: the SHA-256 hex digest of the whole key."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def parse_key_id(presented: str) -> str | None:
    """The key id inside ``bk_<key_id>_<secret>``, or None when the text is not shaped so."""
    if not presented.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = presented[len(KEY_PREFIX) :].partition("_")
    if not sep or not key_id or not secret or len(key_id) > 32:
        return None
    return key_id


async def create_key(
    session: AsyncSession,
    app: str,
    name: str | None = None,
    *,
    expires_at: datetime | None = None,
    actor: str = "cli",
) -> tuple[ApiKey, str]:
    """Create a key for one app.

    Args:
        session: the caller's session; the caller commits.
        app: the app the key grants.
        name: an operator's name for the key (where it is used).
        expires_at: when the key stops working (timezone-aware); None: never.
        actor: who creates it, for the audit row.

    Returns:
        The new row and the plaintext key. The plaintext is not stored: show it once.

    Raises:
        ValueError: the app name or the key name is invalid, or ``expires_at`` is naive or not
            in the future.
    """
    app_name = validate_app_name(app)
    if name is not None:
        validate_key_name(name)
    now = datetime.now(UTC)
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
        raise ValueError(f"a key's expiry must be a time in the future, got {expires_at}")
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    # token_urlsafe uses [A-Za-z0-9_-] only: the key is safe in a URL path segment.
    plaintext = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    row = ApiKey(
        key_id=key_id,
        app=app_name,
        key_hash=hash_key(plaintext),
        created_at=now,
        revoked_at=None,
        name=name,
        expires_at=expires_at,
        last_used_at=None,
    )
    session.add(row)
    session.add(_key_audit(row, "key.created", actor, now))
    await session.flush()
    logger.info("API key %s created for app %s", key_id, app_name)
    return row, plaintext


async def list_keys(session: AsyncSession, app: str) -> list[ApiKey]:
    """Every key of an app, revoked ones included, oldest first.

    Raises:
        ValueError: the app name is invalid.
    """
    app_name = validate_app_name(app)
    result = await session.scalars(
        select(ApiKey).where(ApiKey.app == app_name).order_by(ApiKey.created_at, ApiKey.key_id)
    )
    return list(result)


async def revoke_key(session: AsyncSession, app: str, key_id: str, *, actor: str = "cli") -> bool:
    """Revoke one key of an app.

    Returns:
        True if the key was revoked now; False if the app has no such key or it was revoked
        already.

    Raises:
        ValueError: the app name is invalid.
    """
    app_name = validate_app_name(app)
    now = datetime.now(UTC)
    # One conditional UPDATE (a write first, no read-then-write): two revokers cannot both win,
    # and a SQLite transaction that starts with a write waits for the lock instead of failing.
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.app == app_name, ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ApiKey.key_id)
    )
    if result.scalar_one_or_none() is None:
        return False
    session.add(
        unpublished_row(
            admin_action(app=app_name, actor=actor, action="key.revoked", target=key_id, now=now)
        )
    )
    await session.flush()
    logger.info("API key %s of app %s revoked", key_id, app_name)
    return True


async def verify_key(
    session: AsyncSession, app: str, presented: str, *, now: datetime | None = None
) -> str:
    """Check a key presented for an app.

    Args:
        now: the time the key must be valid at (default: now).

    Returns:
        The key's id.

    Raises:
        AuthError: the key is malformed, unknown, revoked, expired, or belongs to another app
            (the message does not say which, and neither should the caller), or the app name is
            invalid.
    """
    key_id = parse_key_id(presented)
    row = None if key_id is None else await session.get(ApiKey, key_id)
    # Compare a hash even when there is no row, so that timing says little about which ids exist.
    stored = _DUMMY_HASH if row is None else row.key_hash
    matches = hmac.compare_digest(stored.encode(), hash_key(presented).encode())
    if (
        row is None
        or not matches
        or row.app != app
        or key_state(row, now or datetime.now(UTC)) is not KeyState.ACTIVE
    ):
        raise AuthError(f"API key refused for app {app[:128]!r}")
    return row.key_id


async def unusable_keys(
    session: AsyncSession, key_ids: Iterable[str], *, now: datetime | None = None
) -> dict[str, KeyState]:
    """Which of these keys may no longer be used, and why: revoked or expired (a key no longer
    in the store counts as revoked).

    Gateways call it periodically with the keys of their open sessions and close the sessions
    whose key is returned.
    """
    wanted = set(key_ids)
    if not wanted:
        return {}
    at = now or datetime.now(UTC)
    rows = await session.scalars(select(ApiKey).where(ApiKey.key_id.in_(wanted)))
    found = {row.key_id: key_state(row, at) for row in rows}
    return {
        key_id: found.get(key_id, KeyState.REVOKED)
        for key_id in wanted
        if found.get(key_id) is not KeyState.ACTIVE
    }


async def record_key_use(session: AsyncSession, key_id: str, at: datetime) -> None:
    """Note that a handshake with the key succeeded at ``at``; an earlier time never overwrites a
    later one (gateways write concurrently)."""
    await session.execute(
        update(ApiKey)
        .where(
            ApiKey.key_id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at),
        )
        .values(last_used_at=at)
    )


def _key_audit(row: ApiKey, action: str, actor: str, now: datetime) -> AuditRow:
    params: dict[str, str] = {}
    if row.name is not None:
        params["name"] = row.name
    if row.expires_at is not None:
        params["expires_at"] = row.expires_at.isoformat()
    return unpublished_row(
        admin_action(
            app=row.app, actor=actor, action=action, target=row.key_id, now=now, params=params
        )
    )
