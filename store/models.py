"""The store's schema: SQLAlchemy declarative models, the UTC timestamp type and app-name rules.

Owns table and column definitions only; queries live in ``store.keys``, ``store.tokens``,
``store.projection``, ``store.audit``, ``store.workflow_projection``, ``store.workflow_queries``,
``store.bulk_jobs`` and ``store.app_settings``. The one read defined here is
``ExecutorRow.seen_at`` (a connected executor's last seen is its pod's, ``gateway_heard``), a
column of the row as every query loads it. The migrations in ``store/migrations`` create exactly
this schema (a test compares them). Must not import the gateway, the console, Faust or Kafka.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    select,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column
from sqlalchemy.types import TypeDecorator

from recovery.state import ExecutorState
from streams.ids import AppName

APP_NAME_MAX_CHARS = 128
WORKFLOW_ID_MAX_CHARS = 512
"""Longer workflow ids are not stored (an index entry must stay small)."""
NAME_MAX_CHARS = 512
"""Workflow, class and config names are cut to this length."""
LABEL_MAX_CHARS = 256
"""Queue names, versions, executor ids and other short labels are cut to this length."""
STATUS_MAX_CHARS = 64
ACTOR_MAX_CHARS = 128
"""Audit actors (``token:<name>``, ``user:<name>``) are cut to this length in their column."""
ACTION_ID_MAX_CHARS = 512
"""Longer operator action ids (idempotency keys) are not stored: the console must refuse them."""
JOB_ID_MAX_CHARS = 64
TOKEN_NAME_MAX_CHARS = 64
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""The range of a ``BigInteger`` column."""
KEY_NAME_MAX_CHARS = 256
"""An API key's name (an operator's note on where the key is used)."""
NO_QUEUE = ""
"""``workflow_counts.queue_name`` of the workflows that are on no queue (a key cannot be NULL)."""
NO_NAME = ""
"""``workflow_counts.name`` of the workflows whose name was not reported."""
NO_APP = ""
"""``audit_log.app`` of entries that concern no one app (operator tokens)."""
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
    """An executor API key: it grants exactly one app until it is revoked or expires. Only the
    key's hash is stored."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """Short random id, also embedded in the key itself (``bk_<key_id>_<secret>``)."""
    app: Mapped[str] = mapped_column(String(APP_NAME_MAX_CHARS), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 hex digest of the full plaintext key."""
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    name: Mapped[str | None] = mapped_column(String(KEY_NAME_MAX_CHARS))
    """An operator's name for the key (where it is used); not unique. Was ``label`` (0004)."""
    expires_at: Mapped[datetime | None]
    """From this instant on the key is refused and its sessions are closed; None: never."""
    last_used_at: Mapped[datetime | None]
    """When a handshake with the key last succeeded, within a minute: each gateway writes it at
    most once a minute per key."""


class GatewayHeardRow(Base):
    """When the worker last heard a gateway pod speak for an app (``AppState.gateways_heard_ms``,
    written about every 10 s): a pod still speaking still holds its sessions, so each executor it
    holds was seen then (``ExecutorRow.seen_at``)."""

    __tablename__ = "gateway_heard"

    app: Mapped[str] = mapped_column(String(APP_NAME_MAX_CHARS), primary_key=True)
    gateway: Mapped[str] = mapped_column(String(256), primary_key=True)
    heard_at: Mapped[datetime]


class ExecutorRow(Base):
    """Projection of one executor of the liveness table (``recovery.state.ExecutorRecord``)."""

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
    """An ``recovery.state.ExecutorState`` value."""
    connected_at: Mapped[datetime]
    last_seen: Mapped[datetime]
    disconnected_at: Mapped[datetime | None]
    close_code: Mapped[int | None] = mapped_column(Integer)
    close_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
    """Event time of the executor's last state change (not of the last heartbeat)."""
    gateway_heard_at: Mapped[datetime | None] = column_property(
        select(GatewayHeardRow.heard_at)
        .where(GatewayHeardRow.app == app, GatewayHeardRow.gateway == gateway)
        .correlate_except(GatewayHeardRow)
        .scalar_subquery()
    )
    """When the worker last heard this executor's pod (read with the row, never written)."""

    @property
    def seen_at(self) -> datetime:
        """When the executor was last seen: a connected one, when its pod last spoke for it
        (``last_seen`` moves only when its record is written: its connect, a listing, a state
        change), others at ``last_seen``."""
        heard = self.gateway_heard_at
        if self.state == ExecutorState.CONNECTED and heard is not None and heard > self.last_seen:
            return heard
        return self.last_seen


class RecoveryRow(Base):
    """Projection of one recovery of a dead executor (``recovery.state.Recovery``).

    The declaration time is part of the key: an executor that comes back and dies again gets a
    second recovery instead of overwriting the first.
    """

    __tablename__ = "recoveries"

    app: Mapped[str] = mapped_column(String(APP_NAME_MAX_CHARS), primary_key=True)
    dead_executor_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    declared_at_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    application_version: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(32))
    """A ``recovery.state.RecoveryState`` value."""
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
    __table_args__ = (
        # Each serves a filter newest first (``id`` breaks ties, and bounds keyset pages).
        Index("ix_audit_log_ts_id", "ts", "id"),
        Index("ix_audit_log_app_ts", "app", "ts", "id"),
        Index("ix_audit_log_actor_ts", "actor", "ts", "id"),
        Index("ix_audit_log_action_ts", "action", "ts", "id"),
        Index("ix_audit_log_subject_ts", "subject", "ts", "id"),
        Index("ix_audit_log_published", "published", "id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    app: Mapped[str] = mapped_column(String(APP_NAME_MAX_CHARS))
    """The app acted on; ``NO_APP`` (the empty string) for what concerns no app."""
    ts: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(ACTOR_MAX_CHARS))
    """Who acted, e.g. ``recovery-agent``, ``cli`` or ``token:<name>``."""
    action: Mapped[str] = mapped_column(
        # Byte order on PostgreSQL, so that an action prefix (``workflow.``) is an index range.
        String(128).with_variant(String(128, collation="C"), "postgresql")
    )
    """What was done, e.g. ``recovery.declared_dead``, ``key.created`` or ``workflow.cancel``."""
    subject: Mapped[str] = mapped_column(String(512))
    """What it was done to: an executor id, a key id, a workflow id, a bulk job id."""
    detail: Mapped[str | None] = mapped_column(Text)
    """The reason, the error or other free text."""
    outcome: Mapped[str] = mapped_column(String(64))
    record: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The full audit record, as published."""
    event_key: Mapped[str] = mapped_column(String(1024), unique=True)
    """Identity of the audited event: replaying the same record inserts no second row."""
    published: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """Whether the record is on the audit topic. Admin commands (keys, tokens) write to the store
    only; the console's outbox (``management.audit_outbox``) publishes their rows and sets this."""


def _workflow_id() -> String:
    # Byte order on PostgreSQL, as SQLite's BINARY collation: keyset pages and the id-prefix
    # range (``>= prefix AND < successor``) then mean the same on both, and under any database
    # locale (an ``en_US`` collation ignores punctuation and would break the prefix range).
    return String(WORKFLOW_ID_MAX_CHARS).with_variant(
        String(WORKFLOW_ID_MAX_CHARS, collation="C"), "postgresql"
    )


class WorkflowRow(Base):
    """Projection of one workflow's latest status (``streams.records.WorkflowStatus``).

    Latest wins by ``(updated_at_ms or 0, observed_at_ms)``. The input and the output (with the
    error) each come from the latest record that carried them, so a status-only refresh keeps
    them: ``input_updated_at_ms``/``input_observed_at_ms`` (and the ``output_`` pair) are the
    version of the record they came from, NULL while no record carried them.
    """

    __tablename__ = "workflows"
    __table_args__ = (
        # Each serves a filter in creation order; ``status`` last makes counting the statuses
        # of the filter's matches read the index alone.
        Index("ix_workflows_app_created", "app", "created_at_ms", "workflow_id", "status"),
        Index("ix_workflows_app_status_created", "app", "status", "created_at_ms", "workflow_id"),
        Index(
            "ix_workflows_app_name_created", "app", "name", "created_at_ms", "workflow_id", "status"
        ),
        Index("ix_workflows_app_queue_status", "app", "queue_name", "status", "created_at_ms"),
        Index("ix_workflows_app_executor", "app", "executor_id", "created_at_ms", "status"),
        Index("ix_workflows_app_version", "app", "application_version", "created_at_ms", "status"),
        Index("ix_workflows_app_parent", "app", "parent_workflow_id", "created_at_ms"),
        # The workflows dequeued and completed in a minute (``store.conductor_metrics``).
        Index("ix_workflows_app_dequeued", "app", "dequeued_at_ms"),
        Index("ix_workflows_app_completed", "app", "completed_at_ms"),
    )

    app: Mapped[str] = mapped_column(String(APP_NAME_MAX_CHARS), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(_workflow_id(), primary_key=True)
    status: Mapped[str] = mapped_column(String(STATUS_MAX_CHARS))
    """A ``streams.records.WorkflowState`` value, or another status text DBOS reported."""
    name: Mapped[str | None] = mapped_column(String(NAME_MAX_CHARS))
    class_name: Mapped[str | None] = mapped_column(String(NAME_MAX_CHARS))
    config_name: Mapped[str | None] = mapped_column(String(NAME_MAX_CHARS))
    authenticated_user: Mapped[str | None] = mapped_column(String(LABEL_MAX_CHARS))
    assumed_role: Mapped[str | None] = mapped_column(String(LABEL_MAX_CHARS))
    authenticated_roles: Mapped[str | None] = mapped_column(Text)
    input: Mapped[str | None] = mapped_column(Text)
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    """The sort key of every list: ``0`` when the executor did not report it (sorts oldest)."""
    updated_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    completed_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    dequeued_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    queue_name: Mapped[str | None] = mapped_column(String(LABEL_MAX_CHARS))
    queue_partition_key: Mapped[str | None] = mapped_column(String(LABEL_MAX_CHARS))
    deduplication_id: Mapped[str | None] = mapped_column(String(NAME_MAX_CHARS))
    priority: Mapped[int | None] = mapped_column(BigInteger)
    application_version: Mapped[str | None] = mapped_column(String(LABEL_MAX_CHARS))
    executor_id: Mapped[str | None] = mapped_column(String(LABEL_MAX_CHARS))
    timeout_ms: Mapped[int | None] = mapped_column(BigInteger)
    deadline_epoch_ms: Mapped[int | None] = mapped_column(BigInteger)
    delay_until_epoch_ms: Mapped[int | None] = mapped_column(BigInteger)
    forked_from: Mapped[str | None] = mapped_column(String(WORKFLOW_ID_MAX_CHARS))
    was_forked_from: Mapped[bool] = mapped_column(default=False)
    parent_workflow_id: Mapped[str | None] = mapped_column(String(WORKFLOW_ID_MAX_CHARS))
    attributes: Mapped[str | None] = mapped_column(Text)
    schedule_name: Mapped[str | None] = mapped_column(String(LABEL_MAX_CHARS))
    observed_at_ms: Mapped[int] = mapped_column(BigInteger)
    """When a gateway received the status the row holds (the gateway's clock)."""
    input_updated_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    """``updated_at_ms or 0`` of the record the input came from; NULL: no record carried it."""
    input_observed_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    output_updated_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    """``updated_at_ms or 0`` of the record the output and error came from; NULL: none did."""
    output_observed_at_ms: Mapped[int | None] = mapped_column(BigInteger)

    @property
    def has_input(self) -> bool:
        """Whether a record carried the input (``input`` may still be ``None``: no arguments)."""
        return self.input_observed_at_ms is not None

    @property
    def has_output(self) -> bool:
        """Whether a record carried the output and error."""
        return self.output_observed_at_ms is not None


class StepRow(Base):
    """One step of a workflow (``streams.records.StepInfo``); a newer listing replaces them all."""

    __tablename__ = "workflow_steps"

    app: Mapped[str] = mapped_column(String(APP_NAME_MAX_CHARS), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(_workflow_id(), primary_key=True)
    function_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    function_name: Mapped[str] = mapped_column(String(NAME_MAX_CHARS))
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    child_workflow_id: Mapped[str | None] = mapped_column(String(WORKFLOW_ID_MAX_CHARS))
    started_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    completed_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    observed_at_ms: Mapped[int] = mapped_column(BigInteger)
    """When a gateway received the listing this step belongs to."""


class WorkflowCountRow(Base):
    """How many workflows of an app have each name, queue and status: the status tabs (with or
    without a name or queue filter) and the queue summaries add up these few rows instead of
    counting a million.

    ``upsert_workflows`` keeps them in step with ``workflows`` in the same transaction.
    """

    __tablename__ = "workflow_counts"

    app: Mapped[str] = mapped_column(String(APP_NAME_MAX_CHARS), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX_CHARS), primary_key=True)
    """The workflow name, or ``NO_NAME`` (the empty string)."""
    queue_name: Mapped[str] = mapped_column(String(LABEL_MAX_CHARS), primary_key=True)
    """The queue, or ``NO_QUEUE`` (the empty string) for workflows on none."""
    status: Mapped[str] = mapped_column(String(STATUS_MAX_CHARS), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class BulkJobRow(Base):
    """One bulk action over many workflows of an app, with its progress (``store.bulk_jobs``)."""

    __tablename__ = "bulk_jobs"
    __table_args__ = (Index("ix_bulk_jobs_app_created", "app", "created_at"),)

    job_id: Mapped[str] = mapped_column(String(JOB_ID_MAX_CHARS), primary_key=True)
    app: Mapped[str] = mapped_column(String(APP_NAME_MAX_CHARS))
    action: Mapped[str] = mapped_column(String(64))
    """What is done to each workflow: ``cancel``, ``resume``, ``restart``, ``delete``..."""
    actor: Mapped[str] = mapped_column(String(ACTOR_MAX_CHARS))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The action's options, as requested."""
    selection: Mapped[dict[str, Any]] = mapped_column(JSON)
    """How the workflows were chosen: ``{"workflow_ids": [...]}`` or ``{"filter": {...}}``."""
    state: Mapped[str] = mapped_column(String(32))
    """A ``store.bulk_jobs.JobState`` value."""
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer)
    """Items with an outcome (``succeeded + failed``)."""
    succeeded: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    """When the job last made progress; a running job not updated for long was interrupted."""
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    """Why the job as a whole failed or stopped (each item's error is on the item)."""


class BulkJobItemRow(Base):
    """One workflow of a bulk job and what the action did to it."""

    __tablename__ = "bulk_job_items"
    __table_args__ = (
        Index("ix_bulk_job_items_position", "job_id", "position", unique=True),
        # The next pending items, in order, without reading the done ones.
        Index("ix_bulk_job_items_outcome", "job_id", "outcome", "position"),
    )

    job_id: Mapped[str] = mapped_column(
        String(JOB_ID_MAX_CHARS),
        ForeignKey("bulk_jobs.job_id", ondelete="CASCADE"),
        primary_key=True,
    )
    workflow_id: Mapped[str] = mapped_column(_workflow_id(), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    """The item's place in the job (0-based): items are acted on in this order."""
    outcome: Mapped[str] = mapped_column(String(16))
    """A ``store.bulk_jobs.ItemState`` value."""
    error: Mapped[str | None] = mapped_column(Text)
    new_workflow_id: Mapped[str | None] = mapped_column(String(WORKFLOW_ID_MAX_CHARS))
    """The workflow a restart or fork made."""
    updated_at: Mapped[datetime | None]
    """When the item got its outcome; ``None`` while pending."""


class AppSettingRow(Base):
    """An app's settings (``store.app_settings``); an app without a row has the defaults."""

    __tablename__ = "app_settings"

    app: Mapped[str] = mapped_column(String(APP_NAME_MAX_CHARS), primary_key=True)
    payload_privacy: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Baton never asks for, publishes or keeps the app's workflow inputs, outputs and errors,
    nor its steps' outputs and errors (DBOS's metadata-only view)."""
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(ACTOR_MAX_CHARS))
    """Who changed the settings last (``cli``, ``token:<name>``...)."""


class OperatorToken(Base):
    """An operator's API token for the console (``Authorization: Bearer``); only its hash is
    stored. A revoked token keeps its name."""

    __tablename__ = "operator_tokens"

    name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX_CHARS), primary_key=True)
    """1 to 64 characters of ``[A-Za-z0-9_.-]``; the actor is ``token:<name>``."""
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 hex digest of the full plaintext token (``store.keys.hash_key``)."""
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    role: Mapped[str] = mapped_column(String(16), default="operator", server_default="operator")
    """What the token may do: ``viewer``, ``operator`` or ``admin`` (``store.roles``); tokens
    made before roles existed are operators."""


class ConsoleUser(Base):
    """Someone who signs in to the console with a name and a password (``store.users``)."""

    __tablename__ = "console_users"

    name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX_CHARS), primary_key=True)
    """1 to 64 characters of ``[A-Za-z0-9_.@-]``; the actor is ``user:<name>``."""
    password_hash: Mapped[str | None] = mapped_column(Text)
    """An argon2id hash (``store.passwords``); None: no password yet (sign-in links only)."""
    role: Mapped[str] = mapped_column(String(16))
    """A ``store.roles.Role`` value."""
    created_at: Mapped[datetime]
    sessions_valid_after: Mapped[datetime]
    """Sessions started before this are refused: signing out ends every session of the user."""


class SignInCode(Base):
    """A one-time sign-in link's code (``baton up``'s first admin, ``baton users link``): only
    its SHA-256 is kept; it works once, before it expires."""

    __tablename__ = "console_signin_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX_CHARS), index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ConsoleSecret(Base):
    """A secret every console process of a deployment shares (``store.console_secret``): the
    key that signs session and CSRF cookies."""

    __tablename__ = "console_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
