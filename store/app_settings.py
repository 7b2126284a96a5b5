"""Per-app settings: payload privacy, and the queries that read and change it.

Payload privacy is DBOS's metadata-only view for one app: Baton never asks for, publishes or keeps
the app's workflow inputs, outputs and errors, nor its steps' outputs and errors. The setting lives
here, in the store, so every role reads the same: the capture poller (refreshed every few seconds)
and the console put it on their commands to the gateways, and the projection drops payloads of a
private app whatever arrives (``store.workflow_projection``). Switching it on also erases what was
stored for the app, in the same transaction, under the app's projection lock
(``store.workflow_rows.lock_app``), so no batch that read the setting before the switch can write
payloads after it. Switching it on or off writes an audit row, as key and token commands do.

Every function takes a session; the caller owns the transaction. Must not import the gateway, the
console, Faust or Kafka.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import Table, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.audit import admin_action, repeatable_row
from store.database import Store
from store.models import AppSettingRow, AuditRow, StepRow, WorkflowRow, validate_app_name
from store.projection import upsert_for
from store.workflow_rows import PAYLOAD_COLUMNS, STEP_PAYLOAD_COLUMNS, lock_app
from streams.ids import AppName

logger = logging.getLogger(__name__)

PAYLOADS_HIDDEN = "hidden (payload privacy on for this app)"
"""What the console shows in place of a private app's inputs, outputs and errors."""

PRIVACY_ON_ACTION = "app.payload_privacy_on"
PRIVACY_OFF_ACTION = "app.payload_privacy_off"

_SETTINGS: Table = AppSettingRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivacyChange:
    """What switching payload privacy did."""

    changed: bool
    """The setting was different before (only then is the switch audited)."""
    workflows_erased: int = 0
    """Workflow rows whose input, output or error was erased (switching on)."""
    steps_erased: int = 0
    """Step rows whose output or error was erased (switching on)."""


async def payloads_private(session: AsyncSession, app: str) -> bool:
    """Whether payload privacy is on for ``app`` (off for an app without settings)."""
    private = await session.scalar(
        select(AppSettingRow.payload_privacy).where(AppSettingRow.app == app)
    )
    return bool(private)


async def private_apps(session: AsyncSession) -> frozenset[AppName]:
    """Every app with payload privacy on."""
    rows = await session.scalars(
        select(AppSettingRow.app).where(AppSettingRow.payload_privacy.is_(True))
    )
    return frozenset(AppName(app) for app in rows)


async def list_app_settings(session: AsyncSession) -> list[AppSettingRow]:
    """The settings of every app that has any, by app name."""
    return list(await session.scalars(select(AppSettingRow).order_by(AppSettingRow.app)))


async def set_payload_privacy(
    session: AsyncSession, app: str, on: bool, *, actor: str = "cli"
) -> PrivacyChange:
    """Switch payload privacy on or off for an app; switching on erases its stored payloads.

    Erasing runs on every switch on, even when privacy was on already: it is idempotent, and it
    clears anything that reached the store some other way (an older worker's batch, a replay).

    Args:
        session: the caller's session; the caller commits.
        app: the app.
        on: the new setting.
        actor: who switches it, for the audit row.

    Raises:
        ValueError: the app name is invalid.
    """
    app_name = validate_app_name(app)
    await lock_app(session, app_name)  # the projection's lock: no batch interleaves
    was = await payloads_private(session, app_name)
    now = datetime.now(UTC)
    values = {"app": app_name, "payload_privacy": on, "updated_at": now, "updated_by": actor}
    stmt = upsert_for(session, _SETTINGS).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["app"],
            set_={name: stmt.excluded[name] for name in values if name != "app"},
        )
    )
    change = PrivacyChange(changed=was != on)
    if on:
        change = await _erase_payloads(session, app_name, change)
    if change.changed:
        session.add(_privacy_audit(app_name, on, actor, now, change))
    await session.flush()
    logger.info(
        "payload privacy of app %s %s by %s (%d workflows and %d steps erased)",
        app_name,
        "on" if on else "off",
        actor,
        change.workflows_erased,
        change.steps_erased,
    )
    return change


async def _erase_payloads(
    session: AsyncSession, app: AppName, change: PrivacyChange
) -> PrivacyChange:
    """Empty the stored inputs, outputs and errors of an app's workflows and steps (the caller
    holds the app's lock). A workflow's payload versions go too: it then reads as never having
    carried them, so a later record (privacy off again) fills them in."""
    workflows = await session.execute(
        update(WorkflowRow)
        .where(
            WorkflowRow.app == app,
            or_(*(getattr(WorkflowRow, column).is_not(None) for column in PAYLOAD_COLUMNS)),
        )
        .values(dict.fromkeys(PAYLOAD_COLUMNS))
        .execution_options(synchronize_session=False)
    )
    steps = await session.execute(
        update(StepRow)
        .where(
            StepRow.app == app,
            or_(*(getattr(StepRow, column).is_not(None) for column in STEP_PAYLOAD_COLUMNS)),
        )
        .values(dict.fromkeys(STEP_PAYLOAD_COLUMNS))
        .execution_options(synchronize_session=False)
    )
    return replace(change, workflows_erased=_rowcount(workflows), steps_erased=_rowcount(steps))


def _rowcount(result: object) -> int:
    count = getattr(result, "rowcount", 0)
    return count if isinstance(count, int) and count > 0 else 0


def _privacy_audit(
    app: AppName, on: bool, actor: str, now: datetime, change: PrivacyChange
) -> AuditRow:
    record = admin_action(
        app=app,
        actor=actor,
        action=PRIVACY_ON_ACTION if on else PRIVACY_OFF_ACTION,
        target=app,
        now=now,
        params={
            "workflows_erased": change.workflows_erased,
            "steps_erased": change.steps_erased,
        }
        if on
        else {},
    )
    return repeatable_row(record)


class StorePrivateApps:
    """The apps with payload privacy on, read from the store (the capture poller's
    ``capture.agent.PrivateApps``)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def private_apps(self) -> frozenset[AppName]:
        """Every app with payload privacy on.

        Raises:
            Exception: what the database raised (the caller keeps what it knew).
        """
        async with self._store.sessionmaker.begin() as session:
            return await private_apps(session)
