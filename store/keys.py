"""Executor API keys: creation (shown once), listing, revocation and verification.

A key is ``bk_<key_id>_<secret>``; only its SHA-256 is stored, and it grants exactly one app.
Every function takes a session; the caller owns the transaction. Creating and revoking a key also
write an audit row. Must not import the gateway or the console.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.audit import admin_action, unpublished_row
from store.models import ApiKey, AuditRow, validate_app_name
from streams.exceptions import AuthError

logger = logging.getLogger(__name__)

KEY_PREFIX = "bk_"
_KEY_ID_BYTES = 6
"""12 hex characters: short enough to type, and never an underscore (the key's separator)."""
_SECRET_BYTES = 32

_DUMMY_HASH = hashlib.sha256(b"baton: no such key").hexdigest()


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
    session: AsyncSession, app: str, label: str | None = None, *, actor: str = "cli"
) -> tuple[ApiKey, str]:
    """Create a key for one app.

    Args:
        session: the caller's session; the caller commits.
        app: the app the key grants.
        label: a note for operators (where the key is used).
        actor: who creates it, for the audit row.

    Returns:
        The new row and the plaintext key. The plaintext is not stored: show it once.

    Raises:
        ValueError: the app name is invalid.
    """
    app_name = validate_app_name(app)
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    # token_urlsafe uses [A-Za-z0-9_-] only: the key is safe in a URL path segment.
    plaintext = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    now = datetime.now(UTC)
    row = ApiKey(
        key_id=key_id,
        app=app_name,
        key_hash=hash_key(plaintext),
        created_at=now,
        revoked_at=None,
        label=label,
    )
    session.add(row)
    session.add(_key_audit(app_name, key_id, "key.created", actor, now, label))
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
    session.add(_key_audit(app_name, key_id, "key.revoked", actor, now, None))
    await session.flush()
    logger.info("API key %s of app %s revoked", key_id, app_name)
    return True


async def verify_key(session: AsyncSession, app: str, presented: str) -> str:
    """Check a key presented for an app.

    Returns:
        The key's id.

    Raises:
        AuthError: the key is malformed, unknown, revoked, or belongs to another app (the
            message does not say which, and neither should the caller), or the app name is
            invalid.
    """
    key_id = parse_key_id(presented)
    row = None if key_id is None else await session.get(ApiKey, key_id)
    # Compare a hash even when there is no row, so that timing says little about which ids exist.
    stored = _DUMMY_HASH if row is None else row.key_hash
    matches = hmac.compare_digest(stored.encode(), hash_key(presented).encode())
    if row is None or not matches or row.revoked_at is not None or row.app != app:
        raise AuthError(f"API key refused for app {app[:128]!r}")
    return row.key_id


async def revoked_key_ids(session: AsyncSession, key_ids: Iterable[str]) -> set[str]:
    """Which of these key ids may no longer be used: revoked, or not in the store at all.

    Gateways call it periodically with the keys of their open sessions and close the sessions
    whose key is returned.
    """
    wanted = set(key_ids)
    if not wanted:
        return set()
    result = await session.execute(
        select(ApiKey.key_id, ApiKey.revoked_at).where(ApiKey.key_id.in_(wanted))
    )
    usable = {key_id for key_id, revoked_at in result if revoked_at is None}
    return wanted - usable


def _key_audit(
    app: str, key_id: str, action: str, actor: str, now: datetime, label: str | None
) -> AuditRow:
    params = {} if label is None else {"label": label}
    return unpublished_row(
        admin_action(app=app, actor=actor, action=action, target=key_id, now=now, params=params)
    )
