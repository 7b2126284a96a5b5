"""Payload privacy in the store (SQLite): the setting, its audit rows, the erasure when it is
switched on, and the projection keeping no payload of a private app whatever arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from store.app_settings import (
    PRIVACY_OFF_ACTION,
    PRIVACY_ON_ACTION,
    PrivacyChange,
    StorePrivateApps,
    list_app_settings,
    payloads_private,
    private_apps,
    set_payload_privacy,
)
from store.audit import AuditFilter, list_audit
from store.database import Store, sqlite_url
from store.models import StepRow, WorkflowRow
from store.workflow_projection import apply_workflow_events, withheld, workflow_values
from streams.ids import AppName, WorkflowId
from streams.records import StepInfo, WorkflowState, WorkflowSteps
from tests.unit.store.workflow_records import T0, counters, recount, stored, upsert, wf

PAYLOADS: dict[str, Any] = {
    "input": '{"card": "4111"}',
    "output": '"receipt"',
    "error": "ValueError: card 4111",
    "has_input": True,
    "has_output": True,
}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        yield store


async def switch(store: Store, app: str, on: bool, actor: str = "cli") -> PrivacyChange:
    async with store.sessionmaker.begin() as session:
        return await set_payload_privacy(session, app, on, actor=actor)


def steps_of(app: str, workflow_id: str, observed: int = T0) -> WorkflowSteps:
    return WorkflowSteps(
        app=AppName(app),
        workflow_id=WorkflowId(workflow_id),
        steps=(
            StepInfo(function_id=0, function_name="charge", output="'4111'", error=None),
            StepInfo(function_id=1, function_name="mail", output=None, error="SMTP: 4111"),
        ),
        observed_at_ms=observed,
    )


async def project_steps(store: Store, *listings: WorkflowSteps) -> None:
    async with store.sessionmaker.begin() as session:
        await apply_workflow_events(session, [], list(listings), [])


async def step_rows(store: Store, app: str) -> list[tuple[str, str | None, str | None]]:
    async with store.sessionmaker() as session:
        rows = await session.scalars(
            select(StepRow).where(StepRow.app == app).order_by(StepRow.function_id)
        )
        return [(r.function_name, r.output, r.error) for r in rows]


def test_withheld_values_read_as_carrying_no_payload() -> None:
    stored_values = workflow_values(wf("wf-1", WorkflowState.SUCCESS, **PAYLOADS))
    assert stored_values is not None
    values = withheld(stored_values)
    assert (values["input"], values["output"], values["error"]) == (None, None, None)
    assert values["input_observed_at_ms"] is None
    assert values["output_observed_at_ms"] is None
    assert values["status"] == WorkflowState.SUCCESS  # the metadata stays


async def test_no_app_is_private_until_switched(store: Store) -> None:
    async with store.sessionmaker() as session:
        assert await payloads_private(session, "orders") is False
        assert await private_apps(session) == frozenset()
        assert await list_app_settings(session) == []
    assert await StorePrivateApps(store).private_apps() == frozenset()


async def test_switching_on_and_off_is_stored_and_audited_once_per_change(store: Store) -> None:
    assert (await switch(store, "orders", True, actor="token:ops")).changed
    assert not (await switch(store, "orders", True)).changed  # already on: not audited again
    assert (await switch(store, "billing", False)).changed is False  # off is the default
    async with store.sessionmaker() as session:
        assert await payloads_private(session, "orders")
        assert not await payloads_private(session, "billing")
        assert await private_apps(session) == {"orders"}
        settings = {row.app: row for row in await list_app_settings(session)}
        assert settings["orders"].payload_privacy
        assert settings["orders"].updated_by == "cli"
        assert not settings["billing"].payload_privacy
    assert await StorePrivateApps(store).private_apps() == {"orders"}

    assert (await switch(store, "orders", False)).changed
    assert (await switch(store, "orders", True)).changed
    async with store.sessionmaker() as session:
        entries = (await list_audit(session, AuditFilter(app="orders"))).entries
    # Newest first: on, off, on; each its own event.
    assert [e.action for e in entries] == [PRIVACY_ON_ACTION, PRIVACY_OFF_ACTION, PRIVACY_ON_ACTION]
    assert entries[-1].actor == "token:ops"
    assert {e.subject for e in entries} == {"orders"}
    assert len({e.event_key for e in entries}) == 3
    assert all(not e.published for e in entries)  # the console's outbox publishes them


async def test_an_invalid_app_name_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="invalid app name"):
        await switch(store, "no/slash", True)


async def test_switching_on_erases_the_apps_stored_payloads_only(store: Store) -> None:
    await upsert(
        store,
        wf("wf-1", WorkflowState.SUCCESS, **PAYLOADS),
        wf("wf-2", WorkflowState.ERROR, **PAYLOADS),
        wf("wf-3", app="billing", **PAYLOADS),
    )
    await project_steps(store, steps_of("orders", "wf-1"), steps_of("billing", "wf-3"))

    change = await switch(store, "orders", True)
    assert change == PrivacyChange(changed=True, workflows_erased=2, steps_erased=2)

    orders = await stored(store)
    for status in orders.values():
        assert (status.input, status.output, status.error) == (None, None, None)
        assert (status.has_input, status.has_output) == (False, False)
    assert {w: s.status for w, s in orders.items()} == {"wf-1": "SUCCESS", "wf-2": "ERROR"}
    assert await step_rows(store, "orders") == [("charge", None, None), ("mail", None, None)]
    # Another app keeps its payloads.
    (billing,) = (await stored(store, "billing")).values()
    assert (billing.input, billing.error) == (PAYLOADS["input"], PAYLOADS["error"])
    assert await step_rows(store, "billing") == [
        ("charge", "'4111'", None),
        ("mail", None, "SMTP: 4111"),
    ]
    # Switching on again finds nothing more to erase.
    assert await switch(store, "orders", True) == PrivacyChange(changed=False)


async def test_the_projection_keeps_no_payload_of_a_private_app(store: Store) -> None:
    await switch(store, "orders", True)
    first = wf("wf-1", WorkflowState.PENDING, **PAYLOADS)
    done = wf("wf-1", WorkflowState.SUCCESS, updated=T0 + 5, observed=T0 + 5, **PAYLOADS)
    assert await upsert(store, first) == 1
    assert await upsert(store, done) == 1
    await project_steps(store, steps_of("orders", "wf-1"))
    await upsert(store, wf("wf-9", app="billing", **PAYLOADS))

    (status,) = (await stored(store)).values()
    assert status.status == WorkflowState.SUCCESS  # the metadata is kept and follows
    assert (status.input, status.output, status.error) == (None, None, None)
    assert await step_rows(store, "orders") == [("charge", None, None), ("mail", None, None)]
    (other,) = (await stored(store, "billing")).values()
    assert other.input == PAYLOADS["input"]

    # Privacy off again: new records carry payloads, and the store keeps them.
    await switch(store, "orders", False)
    later = wf("wf-1", WorkflowState.SUCCESS, updated=T0 + 5, observed=T0 + 9, **PAYLOADS)
    assert await upsert(store, later) == 1
    (status,) = (await stored(store)).values()
    assert (status.input, status.output) == (PAYLOADS["input"], PAYLOADS["output"])


async def test_rows_erased_keep_their_counts(store: Store) -> None:
    await upsert(store, wf("wf-1", WorkflowState.SUCCESS, name="checkout", **PAYLOADS))
    await switch(store, "orders", True)
    async with store.sessionmaker() as session:
        rows = list(await session.scalars(select(WorkflowRow)))
    assert [(r.workflow_id, r.status, r.has_input, r.has_output) for r in rows] == [
        ("wf-1", "SUCCESS", False, False)
    ]
    assert (
        await counters(store) == await recount(store) == {("orders", "checkout", "", "SUCCESS"): 1}
    )
