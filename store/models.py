"""The store's schema: SQLAlchemy declarative models, the UTC timestamp type and app-name rules.

Owns table and column definitions only; queries live in ``store.keys`` and ``store.projection``.
Must not import the gateway, the console, Faust or Kafka.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from streams.records import AppName

APP_NAME_MAX_CHARS = 128
_APP_NAME = re.compile(rf"[A-Za-z0-9_.-]{{1,{APP_NAME_MAX_CHARS}}}")


def validate_app_name(name: str) -> AppName:
    """Check an app name: 1 to 128 characters of ``[A-Za-z0-9_.-]``.

    Args:
        name: the app name, as typed by an operator or taken from a URL.

    Returns:
        The same name, typed as an ``AppName``.

    Raises:
        ValueError: the name is empty, too long, or has another character.
    """
    if not _APP_NAME.fullmatch(name):
        raise ValueError(
            f"invalid app name {name[: APP_NAME_MAX_CHARS + 8]!r}: use 1 to "
            f"{APP_NAME_MAX_CHARS} characters of letters, digits, '_', '.' and '-'"
        )
    return AppName(name)


def utc_from_ms(epoch_ms: int) -> datetime:
    """An epoch-milliseconds event time as a timezone-aware UTC datetime."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    PostgreSQL keeps the zone (``timestamptz``); SQLite keeps none, so the value is converted to
    UTC before it is written and tagged UTC when it is read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous: pass a timezone-aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every Baton table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: JSON}


class ApiKey(Base):
    """An executor API key: it grants exactly one app. Only the key's hash is stored."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """Short random id, also embedded in the key itself (``bk_<key_id>_<secret>``)."""
    app: Mapped[str] = mapped_column(String(APP_NAME_MAX_CHARS), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 hex digest of the full plaintext key."""
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    label: Mapped[str | None] = mapped_column(String(256))


class ExecutorRow(Base):
    """Projection of one executor of the liveness table (``streams.liveness.ExecutorRecord``)."""

    __tablename__ = "executors"

    app: Mapped[str] = mapped_column(String(APP_NAME_MAX_CHARS), primary_key=True)
    executor_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    application_version: Mapped[str] = mapped_column(String(256))
    hostname: Mapped[str | None] = mapped_column(String(256))
    language: Mapped[str | None] = mapped_column(String(64))
    dbos_version: Mapped[str | None] = mapped_column(String(64))
    executor_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    """The executor's own ``metadata`` (column ``metadata``: the name is reserved on models)."""
    gateway: Mapped[str] = mapped_column(String(256))
    conn_id: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(32))
    """An ``streams.liveness.ExecutorState`` value."""
    connected_at: Mapped[datetime]
    last_seen: Mapped[datetime]
    disconnected_at: Mapped[datetime | None]
    close_code: Mapped[int | None] = mapped_column(Integer)
    close_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
    """Event time of the executor's last state change (not of the last heartbeat)."""


class RecoveryRow(Base):
    """Projection of one recovery of a dead executor (``streams.liveness.Recovery``).

    The declaration time is part of the key: an executor that comes back and dies again gets a
    second recovery instead of overwriting the first.
    """

    __tablename__ = "recoveries"

    app: Mapped[str] = mapped_column(String(APP_NAME_MAX_CHARS), primary_key=True)
    dead_executor_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    declared_at_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    application_version: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(32))
    """A ``streams.liveness.RecoveryState`` value."""
    attempt: Mapped[int] = mapped_column(Integer)
    target: Mapped[str | None] = mapped_column(String(256))
    command_id: Mapped[str | None] = mapped_column(String(512))
    reason: Mapped[str] = mapped_column(Text)
    declared_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    succeeded_at: Mapped[datetime | None]


class AuditRow(Base):
    """One audit log entry: who did what to which subject, when, why, and with what outcome."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    app: Mapped[str] = mapped_column(String(APP_NAME_MAX_CHARS), index=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(128))
    """Who acted, e.g. ``recovery-agent`` or ``cli``."""
    action: Mapped[str] = mapped_column(String(128))
    """What was done, e.g. ``recovery.declared_dead`` or ``key.created``."""
    subject: Mapped[str] = mapped_column(String(512))
    """What it was done to: an executor id, a key id."""
    detail: Mapped[str | None] = mapped_column(Text)
    """The reason or other free text."""
    outcome: Mapped[str] = mapped_column(String(64))
    record: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The full audit record, as published."""
    event_key: Mapped[str] = mapped_column(String(1024), unique=True)
    """Identity of the audited event: replaying the same record inserts no second row."""
