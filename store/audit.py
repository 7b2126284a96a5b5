"""The audit log in SQL: recovery decisions and operator actions, and the queries that read them.

``record_audit`` turns audit records (``streams.records.AuditRecord``) into ``audit_log`` rows; a
row is a pure function of its record, and a record already there is skipped (its ``event_key``
is unique), so the worker, the console and ``baton replay`` may all write the same record: the
rows come out identical. ``list_audit`` pages the log newest first; ``find_action`` finds an
operator action by its idempotency key.

What the queries cost (the indexes are in ``store.models``): a filter by app, actor, exact
action or target reads one index range of ``limit + 1`` rows, newest first, and a cursor page
costs the same as the first; with several of them, the database picks one index and filters by
the others. An action prefix (``workflow.``) reads the range of every matching action and sorts
it. Must not import Faust, Kafka, the gateway or the console.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    ACTION_ID_MAX_CHARS,
    APP_NAME_MAX_CHARS,
    AuditRow,
    utc_from_ms,
    validate_app_name,
)
from store.paging import MAX_PAGE_ROWS, SortOrder, decode_cursor, encode_cursor, prefix_successor
from store.projection import upsert_for
from streams.bounds import bound_text
from streams.codec import decode, encode
from streams.ids import AppName
from streams.records import (
    ActionOutcome,
    AuditRecord,
    OperatorAction,
    RecoveryDecision,
    RecoveryStep,
)

logger = logging.getLogger(__name__)

RECOVERY_ACTOR = "recovery-agent"
ACTION_PREFIX_MARK = "."
"""An ``AuditFilter.action`` that ends with this is a prefix: ``workflow.`` is every workflow
action."""

_AUDIT: Table = AuditRow.__table__  # type: ignore[assignment]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CURSOR_ORDER = SortOrder.NEWEST
"""The audit log's one order; its cursors are ``store.paging`` cursors of
``(ts in epoch microseconds, str(id))``."""

_OUTCOMES = {
    RecoveryStep.SUCCEEDED: "succeeded",
    RecoveryStep.FAILED: "failed",
    RecoveryStep.STRANDED: "stranded",
    RecoveryStep.ABANDONED: "abandoned",
}
"""Audit outcome per recovery step; every other step is an ``ok`` intermediate step."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditFilter:
    """Which audit entries to list; every field set narrows it (``AND``).

    In every text field, ``None`` and ``""`` filter nothing.
    """

    app: str | None = None
    actor: str | None = None
    """Exactly this actor, e.g. ``token:alice`` or ``recovery-agent``."""
    action: str | None = None
    """Exactly this action (``workflow.cancel``) or, when it ends with ``.``, every action that
    starts with it: ``workflow.`` matches ``workflow.cancel`` and ``workflow.fork``, not
    ``workflows.x``. Case-sensitive, no wildcards."""
    target: str | None = None
    """Exactly this subject: a workflow id, an executor id, a bulk job id, a key id."""
    outcome: str | None = None
    since: datetime | None = None
    """At or after this time (inclusive; timezone-aware)."""
    until: datetime | None = None
    """Before this time (exclusive; timezone-aware)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditPage:
    """One page of the audit log, newest first."""

    entries: list[AuditRow]
    next_cursor: str | None
    """Opaque keyset cursor of the next page; ``None`` on the last page."""


# -- records to rows -------------------------------------------------------------------------------


def audit_event_key(record: AuditRecord) -> str:
    """The identity of an audit record: the same record replayed has the same key."""
    match record:
        case RecoveryDecision():
            return (
                f"{record.app}/{record.dead_executor_id}/{record.step.value}/"
                f"{record.attempt}/{record.ts_ms}"
            )
        case OperatorAction():
            return _action_key(record.app, record.action_id)


def audit_values(record: AuditRecord) -> dict[str, Any] | None:
    """The ``audit_log`` row of a record; ``None`` when its app or action id is too long to store.

    Column texts are cut to their column's length; ``record`` keeps everything.
    """
    match record:
        case RecoveryDecision():
            return _decision_values(record)
        case OperatorAction():
            return _action_values(record)


def _decision_values(decision: RecoveryDecision) -> dict[str, Any]:
    return {
        "app": decision.app,
        "ts": utc_from_ms(decision.ts_ms),
        "actor": RECOVERY_ACTOR,
        "action": f"recovery.{decision.step.value}",
        "subject": decision.dead_executor_id,
        "detail": decision.reason,
        "outcome": _OUTCOMES.get(decision.step, "ok"),
        "record": orjson.loads(encode(decision)),
        "event_key": audit_event_key(decision),
    }


def _action_values(action: OperatorAction) -> dict[str, Any] | None:
    if len(action.app) > APP_NAME_MAX_CHARS or len(action.action_id) > ACTION_ID_MAX_CHARS:
        return None
    return {
        "app": action.app,
        "ts": utc_from_ms(action.finished_at_ms),
        "actor": _fit(_AUDIT.c.actor, action.actor),
        "action": _fit(_AUDIT.c.action, action.action),
        "subject": _fit(_AUDIT.c.subject, action.target),
        "detail": action.error,
        "outcome": _fit(_AUDIT.c.outcome, action.outcome.value),
        "record": orjson.loads(encode(action)),
        "event_key": audit_event_key(action),
    }


def _fit(column: Any, text: str) -> str:
    """``text`` cut (with a marker) to the column's length, as it is stored and looked up."""
    return bound_text(text, column.type.length) or ""


def _action_key(app: str, action_id: str) -> str:
    return f"action/{app}/{action_id}"


# -- writes (the worker, the console, replay) ------------------------------------------------------


def admin_action(
    *,
    app: str,
    actor: str,
    action: str,
    target: str,
    now: datetime,
    params: dict[str, Any] | None = None,
) -> OperatorAction:
    """The audit record of an admin command (``key.created``, ``token.revoked``...): done by
    the time it is recorded. Its id is ``{action}/{target}``: a key id or token name is never
    reused, so the same event always has the same id."""
    at_ms = int(now.timestamp() * 1000)
    return OperatorAction(
        action_id=f"{action}/{target}",
        app=AppName(app),
        actor=actor,
        action=action,
        target=target,
        params=params or {},
        outcome=ActionOutcome.SUCCEEDED,
        requested_at_ms=at_ms,
        finished_at_ms=at_ms,
    )


def unpublished_row(record: OperatorAction) -> AuditRow:
    """The audit row of an action recorded without a broker (the admin commands): the console's
    outbox publishes it to the audit topic later (``published`` false until then)."""
    values = audit_values(record)
    if values is None:
        raise ValueError(f"audit record too long to store: {record.action_id[:200]!r}")
    return AuditRow(**values, published=False)


def repeatable_row(record: OperatorAction) -> AuditRow:
    """``unpublished_row`` of an event that happens to one target many times (an app's privacy
    switched, a user's failed sign-ins): ``admin_action``'s ``{action}/{target}`` id, made for
    things done once, gets the time and a random suffix."""
    unique = f"{record.action_id}/{record.finished_at_ms}-{secrets.token_hex(4)}"
    return unpublished_row(replace(record, action_id=unique))


async def unpublished_actions(
    session: AsyncSession, limit: int = 100
) -> list[tuple[int, OperatorAction]]:
    """The oldest audit rows not yet on the audit topic, with their row ids."""
    rows = await session.execute(
        select(AuditRow.id, AuditRow.record)
        .where(AuditRow.published.is_(False))
        .order_by(AuditRow.id)
        .limit(limit)
    )
    found: list[tuple[int, OperatorAction]] = []
    for row_id, stored in rows:
        record = decode(orjson.dumps(stored))
        if isinstance(record, OperatorAction):
            found.append((row_id, record))
    return found


async def mark_published(session: AsyncSession, row_ids: Sequence[int]) -> None:
    """Note that these audit rows are on the audit topic now."""
    if row_ids:
        await session.execute(
            update(AuditRow).where(AuditRow.id.in_(list(row_ids))).values(published=True)
        )


async def record_audit(
    session: AsyncSession, records: Sequence[AuditRecord], *, published: bool = True
) -> None:
    """Insert audit records into the audit log; a record already there is skipped.

    Args:
        session: the caller's session; the caller commits.
        records: recovery decisions and operator actions from the audit topic (or the console),
            in any order, possibly repeated.
        published: whether the records are on the audit topic already (False: the console's
            outbox publishes them).
    """
    rows: list[dict[str, Any]] = []
    for record in records:
        values = audit_values(record)
        if values is None:
            logger.warning("audit record with too long an app or action id skipped: %.200r", record)
            continue
        rows.append({**values, "published": published})
    if not rows:
        return
    stmt = upsert_for(session, _AUDIT).on_conflict_do_nothing(index_elements=["event_key"])
    await session.execute(stmt, rows)


# -- queries (the console, the CLI) ----------------------------------------------------------------


async def list_audit(
    session: AsyncSession, flt: AuditFilter, *, limit: int = 100, cursor: str | None = None
) -> AuditPage:
    """One page of the audit entries that match a filter, newest first.

    Args:
        session: the caller's session.
        flt: which entries.
        limit: entries per page (clamped to 1..``store.paging.MAX_PAGE_ROWS``).
        cursor: the ``next_cursor`` of the previous page (keyset paging: no entry is skipped or
            repeated when entries arrive between pages).

    Returns:
        The entries and, unless it is the last page, the cursor of the next one.

    Raises:
        ValueError: the app name or the cursor is malformed, or ``since``/``until`` is naive.
    """
    limit = min(max(limit, 1), MAX_PAGE_ROWS)
    conditions = _conditions(flt)
    if cursor is not None:
        conditions.append(_after(*_decode_cursor(cursor)))
    stmt = (
        select(AuditRow)
        .where(*conditions)
        .order_by(AuditRow.ts.desc(), AuditRow.id.desc())
        .limit(limit + 1)
    )
    entries = list(await session.scalars(stmt))
    if len(entries) <= limit:
        return AuditPage(entries=entries, next_cursor=None)
    last = entries[limit - 1]
    return AuditPage(entries=entries[:limit], next_cursor=_encode_cursor(last.ts, last.id))


def _conditions(flt: AuditFilter) -> list[ColumnElement[bool]]:
    a = AuditRow
    conditions: list[ColumnElement[bool]] = []
    if flt.app:
        conditions.append(a.app == validate_app_name(flt.app))
    if flt.actor:
        conditions.append(a.actor == _fit(_AUDIT.c.actor, flt.actor))
    if flt.action:
        conditions.extend(_action_conditions(flt.action))
    if flt.target:
        conditions.append(a.subject == _fit(_AUDIT.c.subject, flt.target))
    if flt.outcome:
        conditions.append(a.outcome == flt.outcome)
    for bound in (flt.since, flt.until):
        if bound is not None and bound.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous: pass timezone-aware since and until")
    if flt.since is not None:
        conditions.append(a.ts >= flt.since)
    if flt.until is not None:
        conditions.append(a.ts < flt.until)
    return conditions


def _action_conditions(action: str) -> list[ColumnElement[bool]]:
    if not action.endswith(ACTION_PREFIX_MARK):
        return [AuditRow.action == action]
    # A range rather than LIKE: no wildcard to escape, and an index seek (the column is in byte
    # order on PostgreSQL, as SQLite's BINARY). A prefix ending in "." always has a successor.
    return [AuditRow.action >= action, AuditRow.action < (prefix_successor(action) or action)]


def _after(ts: datetime, entry_id: int) -> ColumnElement[bool]:
    # As store.workflow_queries: "<= ts AND (< ts OR id < i)" bounds the index range on both
    # databases.
    a = AuditRow
    return (a.ts <= ts) & ((a.ts < ts) | (a.id < entry_id))


def _encode_cursor(ts: datetime, entry_id: int) -> str:
    return encode_cursor(_CURSOR_ORDER, (ts - _EPOCH) // _MICROSECOND, str(entry_id))


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    epoch_us, entry_id = decode_cursor(cursor, _CURSOR_ORDER)
    if not entry_id.isascii() or not entry_id.isdigit():
        raise ValueError("malformed cursor")
    try:
        return _EPOCH + epoch_us * _MICROSECOND, int(entry_id)
    except OverflowError as exc:
        raise ValueError("malformed cursor") from exc


async def find_action(session: AsyncSession, app: str, action_id: str) -> OperatorAction | None:
    """The operator action recorded under an idempotency key, or ``None`` if there is none.

    Args:
        session: the caller's session.
        app: the app the action was on.
        action_id: the action's idempotency key.

    Raises:
        RecordError: the stored record does not decode (a row ``record_audit`` did not write).
    """
    stored = await session.scalar(
        select(AuditRow.record).where(AuditRow.event_key == _action_key(app, action_id))
    )
    if stored is None:
        return None
    action = decode(orjson.dumps(stored))
    # Another record whose key happens to read the same (an app named "action"...) is not it.
    if not isinstance(action, OperatorAction) or (action.app, action.action_id) != (app, action_id):
        return None
    return action
