"""Payload privacy in the console, over a real seeded store: a private app's detail and steps ask
the live executor for no payloads and show none (even when one answers with them anyway), the API
and the dashboard say they are hidden, and exports, imports and a workflow's events are refused
with a 409 that is audited. Another app is unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from asgi_lifespan import LifespanManager

from console.app import create_app
from console.detail import WITHHELD_FROM_VIEWERS
from store.app_settings import PAYLOADS_HIDDEN, set_payload_privacy
from store.audit import AuditFilter, list_audit
from store.database import Store
from store.roles import Role
from streams.records import ActionOutcome
from tests.component.console.channel import FakeChannel
from tests.component.console.seed import (
    STEPS,
    WORKFLOWS,
    XSS,
    ClientFactory,
    FakeLive,
    OfflineLive,
)
from tests.console_access import TEST_ACCESS, bearer

WF = "/api/v1/apps/orders/workflows"


async def private(store: Store, on: bool = True) -> None:
    async with store.sessionmaker.begin() as session:
        await set_payload_privacy(session, "orders", on, actor="test")


def loaded_live() -> FakeLive:
    """An executor of ``orders`` that answers with every payload, whatever it is asked."""
    return FakeLive(
        workflows={w.workflow_id: w for w in WORKFLOWS},
        steps={s.workflow_id: s.steps for s in STEPS},
    )


def assert_hidden(detail: dict[str, object]) -> None:
    assert detail["payloads_hidden"] == PAYLOADS_HIDDEN
    assert (detail["input"], detail["output"], detail["error"]) == (None, None, None)
    assert (detail["has_input"], detail["has_output"]) == (False, False)


async def test_a_private_apps_detail_and_steps_show_no_payload_live_or_stored(
    make_client: ClientFactory, seeded_store: Store
) -> None:
    async with make_client(loaded_live()) as client:
        shown = (await client.get(f"{WF}/wf-002")).json()
    assert shown["payloads_hidden"] is None
    assert XSS in shown["input"]

    await private(seeded_store)
    live = loaded_live()
    async with make_client(live) as client:
        detail = (await client.get(f"{WF}/wf-002")).json()
        steps = (await client.get(f"{WF}/wf-002/steps")).json()
    assert detail["source"] == "live"
    assert detail["status"] == "ERROR"
    assert_hidden(detail)
    assert steps["source"] == "live"
    assert steps["payloads_hidden"] == PAYLOADS_HIDDEN
    assert [s["function_name"] for s in steps["steps"]] == ["validate"]
    assert all(s["output"] is None and s["error"] is None for s in steps["steps"])
    assert live.asked_private == [True, True]

    # No executor connected: the store answers, and switching privacy on erased it all.
    async with make_client(OfflineLive()) as client:
        stored = (await client.get(f"{WF}/wf-002")).json()
        stored_steps = (await client.get(f"{WF}/wf-002/steps")).json()
        listed = (await client.get(WF, params={"status": "ERROR"})).json()
    assert stored["source"] == "store"
    assert_hidden(stored)
    assert stored_steps["payloads_hidden"] == PAYLOADS_HIDDEN
    assert all(s["output"] is None and s["error"] is None for s in stored_steps["steps"])
    assert [w["error"] for w in listed["workflows"]] == [None]
    assert listed["payloads_hidden"] == PAYLOADS_HIDDEN


async def test_the_dashboard_says_the_payloads_are_hidden(
    make_client: ClientFactory, seeded_store: Store
) -> None:
    await private(seeded_store)
    async with make_client(loaded_live()) as client:
        page = await client.get("/apps/orders/workflows/wf-002", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert PAYLOADS_HIDDEN in page.text
    assert 'data-testid="payloads-hidden"' in page.text
    assert 'data-testid="step-payloads-hidden"' in page.text
    assert "bad cart" not in page.text
    assert 'data-testid="workflow-input"' not in page.text


@pytest.fixture
async def api(seeded_store: Store) -> AsyncIterator[tuple[httpx.AsyncClient, FakeChannel]]:
    channel = FakeChannel()
    app = create_app(seeded_store, channel=channel, action_timeout_s=0.3, access=TEST_ACCESS)
    async with LifespanManager(app) as running:
        transport = httpx.ASGITransport(app=running.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://console", headers=await bearer(seeded_store)
        ) as client:
            yield client, channel


async def test_export_import_and_a_workflows_events_are_refused_and_audited(
    api: tuple[httpx.AsyncClient, FakeChannel], seeded_store: Store
) -> None:
    client, channel = api
    await private(seeded_store)

    export = await client.get(f"{WF}/wf-001/export")
    assert export.status_code == 409
    assert export.json()["error"] == (
        "exporting a workflow carries workflow payloads, and payload privacy is on for app "
        "orders: Baton never asks for them (`baton apps privacy orders off` allows it)"
    )
    imported = await client.post(
        "/api/v1/apps/orders/import", json={"serialized_workflow": "eyJ3b3JrZmxvdyI6IDF9"}
    )
    assert imported.status_code == 409
    assert "importing a workflow carries workflow payloads" in imported.json()["error"]
    for name in ("events", "notifications", "streams"):
        refused = await client.get(f"{WF}/wf-001/{name}")
        assert refused.status_code == 409, (name, refused.text)
        assert f"reading a workflow's {name} carries" in refused.json()["error"]
    assert channel.requests == []  # no executor was asked

    async with seeded_store.sessionmaker() as session:
        entries = (await list_audit(session, AuditFilter(app="orders"))).entries
    rejected = {e.action: e.outcome for e in entries if e.action.startswith("workflow.")}
    assert rejected == {
        "workflow.export": ActionOutcome.REJECTED.value,
        "workflow.import": ActionOutcome.REJECTED.value,
    }

    # Privacy off: the export reaches the executor again.
    await private(seeded_store, on=False)
    allowed = await client.get(f"{WF}/wf-001/export")
    assert allowed.status_code != 409, allowed.text
    assert [r.kind.value for r in channel.requests] == ["export_workflow"]


async def test_a_private_apps_workflow_list_marks_errors_hidden(
    make_client: ClientFactory, seeded_store: Store
) -> None:
    async with make_client(OfflineLive()) as client:
        shown = (await client.get(WF, params={"status": "ERROR"})).json()
        page = await client.get("/apps/orders/workflows", headers={"accept": "text/html"})
    assert shown["payloads_hidden"] is None
    assert [w["error"] for w in shown["workflows"]] != [None]
    assert 'data-testid="error-hidden"' not in page.text

    await private(seeded_store)
    async with make_client(OfflineLive()) as client:
        listed = (await client.get(WF)).json()
        failed = (await client.get(WF, params={"status": "ERROR"})).json()
        page = await client.get("/apps/orders/workflows", headers={"accept": "text/html"})
    for body in (listed, failed):
        assert body["payloads_hidden"] == PAYLOADS_HIDDEN
        assert all(w["error"] is None for w in body["workflows"])
    assert [w["status"] for w in failed["workflows"]] == ["ERROR"]
    assert page.status_code == 200
    assert 'data-testid="payloads-hidden"' in page.text
    assert page.text.count('data-testid="error-hidden"') == len(listed["workflows"])
    assert PAYLOADS_HIDDEN in page.text


async def test_viewers_can_be_shown_no_payloads_in_any_app(seeded_store: Store) -> None:
    """``BATON_CONSOLE_VIEWER_PAYLOADS=0``: a viewer sees every workflow of an app without payload
    privacy, but none of its inputs, outputs, errors or step outputs, and is refused its events;
    an operator still sees them all."""
    access = replace(TEST_ACCESS, viewers_see_payloads=False)
    live = loaded_live()
    app = create_app(seeded_store, live, access=access)
    viewer = await bearer(seeded_store, "watcher", Role.VIEWER)
    operator = await bearer(seeded_store, "deployer", Role.OPERATOR)
    async with LifespanManager(app) as running:
        transport = httpx.ASGITransport(app=running.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            detail = (await client.get(f"{WF}/wf-002", headers=viewer)).json()
            steps = (await client.get(f"{WF}/wf-002/steps", headers=viewer)).json()
            listed = (await client.get(WF, params={"status": "ERROR"}, headers=viewer)).json()
            events = await client.get(f"{WF}/wf-002/events", headers=viewer)
            page = await client.get(
                "/apps/orders/workflows/wf-002", headers={**viewer, "accept": "text/html"}
            )
            shown = (await client.get(f"{WF}/wf-002", headers=operator)).json()
    assert detail["payloads_hidden"] == WITHHELD_FROM_VIEWERS
    assert (detail["input"], detail["output"], detail["error"]) == (None, None, None)
    assert detail["status"] == "ERROR"
    assert steps["payloads_hidden"] == WITHHELD_FROM_VIEWERS
    assert [s["function_name"] for s in steps["steps"]] == ["validate"]
    assert all(s["output"] is None and s["error"] is None for s in steps["steps"])
    assert listed["payloads_hidden"] == WITHHELD_FROM_VIEWERS
    assert [w["error"] for w in listed["workflows"]] == [None]
    assert events.status_code == 403
    assert "BATON_CONSOLE_VIEWER_PAYLOADS" in events.json()["error"]
    assert page.status_code == 200
    assert WITHHELD_FROM_VIEWERS in page.text
    assert "bad cart" not in page.text
    assert live.asked_private[:2] == [True, True]  # the executor was not asked for them either

    assert shown["payloads_hidden"] is None
    assert XSS in shown["input"]
