"""The management API over a real store, with executors played by ``FakeChannel``.

Seeded world (``seed.py``): app ``orders`` with executor ``e1`` (v1) CONNECTED and ``e0`` DEAD;
workflows ``wf-001``... on v1.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from console.app import create_app
from recovery.state import AppState, ExecutorRecord, ExecutorState
from store.audit import AuditFilter, list_audit
from store.database import Store
from store.projection import project_app_state
from store.tokens import create_token
from streams.ids import ExecutorId
from streams.records import ActionOutcome, RequestKind
from tests.component.console.channel import FakeChannel
from tests.component.console.seed import APP_STATE, ORDERS, executor

WF = "/api/v1/apps/orders/workflows"


@pytest.fixture
def channel() -> FakeChannel:
    return FakeChannel()


@pytest.fixture
async def api(seeded_store: Store, channel: FakeChannel) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seeded_store, channel=channel, action_timeout_s=0.3)
    async with LifespanManager(app) as running:
        transport = httpx.ASGITransport(app=running.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            yield client


async def add_executors(store: Store, *records: Any) -> None:
    state = AppState(
        app=ORDERS,
        executors={**APP_STATE.executors, **{r.info.executor_id: r for r in records}},
        recoveries=APP_STATE.recoveries,
    )
    async with store.sessionmaker.begin() as session:
        await project_app_state(session, state)


def on_version(record: ExecutorRecord, version: str) -> ExecutorRecord:
    return replace(record, info=replace(record.info, application_version=version))


async def audit_rows(store: Store, **filters: Any) -> list[Any]:
    async with store.sessionmaker.begin() as session:
        page = await list_audit(session, AuditFilter(**filters), limit=100, cursor=None)
    return page.entries


async def test_cancel_reaches_the_connected_executor_and_is_audited(
    api: httpx.AsyncClient, channel: FakeChannel, seeded_store: Store
) -> None:
    response = await api.post(f"{WF}/wf-001/cancel")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outcome"] == "succeeded"
    assert body["executor_id"] == "e1"
    assert body["actor"] == "local"
    assert body["replayed"] is False
    assert channel.statuses["wf-001"] == "CANCELLED"
    [request] = channel.requests
    assert request.kind is RequestKind.CANCEL
    assert request.target == "e1"
    assert request.params == {"cancel_children": False}
    [record] = channel.audit
    assert record.action == "workflow.cancel"
    assert record.outcome is ActionOutcome.SUCCEEDED
    [row] = await audit_rows(seeded_store, action="workflow.cancel")
    assert (row.actor, row.subject, row.outcome) == ("local", "wf-001", "succeeded")


async def test_the_same_idempotency_key_acts_once(
    api: httpx.AsyncClient, channel: FakeChannel
) -> None:
    headers = {"Idempotency-Key": "fork-wf-001-a"}
    first = await api.post(f"{WF}/wf-001/fork", json={"start_step": 3}, headers=headers)
    second = await api.post(f"{WF}/wf-001/fork", json={"start_step": 3}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.json()["replayed"] is True
    new_id = first.json()["result"]["new_workflow_id"]
    assert second.json()["result"]["new_workflow_id"] == new_id
    assert channel.forks == {new_id: ("wf-001", 3)}
    assert len(channel.requests) == 1
    # The key names one action: reusing it for another is refused, not acted on.
    other = await api.post(f"{WF}/wf-002/cancel", headers=headers)
    assert other.status_code == 409
    assert "already used" in other.json()["error"]
    assert len(channel.requests) == 1


async def test_concurrent_duplicates_act_once(api: httpx.AsyncClient, channel: FakeChannel) -> None:
    channel.delay_s = 0.1
    headers = {"Idempotency-Key": "double-click"}
    answers = await asyncio.gather(
        *(api.post(f"{WF}/wf-001/cancel", headers=headers) for _ in range(3))
    )
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert sorted(a.json()["replayed"] for a in answers) == [False, True, True]
    assert channel.acted == [("cancel", "wf-001")]


async def test_restart_forks_from_step_one_on_the_workflows_version(
    api: httpx.AsyncClient, channel: FakeChannel
) -> None:
    response = await api.post(f"{WF}/wf-002/restart")
    assert response.status_code == 200, response.text
    new_id = response.json()["result"]["new_workflow_id"]
    assert new_id != "wf-002"
    assert channel.forks[new_id] == ("wf-002", 1)


async def test_no_executor_connected_is_a_clear_rejected_action(
    api: httpx.AsyncClient, channel: FakeChannel, seeded_store: Store
) -> None:
    response = await api.post("/api/v1/apps/payments/workflows/wf-9/cancel")
    assert response.status_code == 503
    assert "no executor of app payments is connected" in response.json()["error"]
    assert response.json()["action"]["outcome"] == "rejected"
    assert channel.requests == []
    [row] = await audit_rows(seeded_store, app="payments")
    assert row.outcome == "rejected"


async def test_resume_needs_an_executor_of_the_workflows_version(
    api: httpx.AsyncClient, channel: FakeChannel, seeded_store: Store
) -> None:
    await add_executors(
        seeded_store,
        executor("e1", ExecutorState.DEAD),
        on_version(executor("e2", ExecutorState.CONNECTED), "v2"),
    )
    response = await api.post(f"{WF}/wf-002/resume")
    assert response.status_code == 409
    error = response.json()["error"]
    assert "no executor of application version v1" in error
    assert "connected versions: v2" in error
    assert channel.requests == []
    # Cancel does not care about versions: e2 does it.
    cancel = await api.post(f"{WF}/wf-002/cancel")
    assert cancel.json()["executor_id"] == "e2"


async def test_a_target_that_left_is_retried_on_another_executor(
    api: httpx.AsyncClient, channel: FakeChannel, seeded_store: Store
) -> None:
    await add_executors(
        seeded_store,
        executor("e2", ExecutorState.CONNECTED, last_seen_ms=10**13),
    )
    channel.behaviour["e2"] = "gone"  # the newest-seen executor left its gateway
    response = await api.post(f"{WF}/wf-001/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["executor_id"] == "e1"
    assert [r.target for r in channel.requests] == ["e2", "e1"]
    assert len({r.request_id for r in channel.requests}) == 2


async def test_a_fork_retried_after_a_disconnect_does_not_fork_twice(
    api: httpx.AsyncClient, channel: FakeChannel, seeded_store: Store
) -> None:
    await add_executors(seeded_store, executor("e2", ExecutorState.CONNECTED, last_seen_ms=10**13))
    channel.behaviour["e2"] = "drop"
    response = await api.post(f"{WF}/wf-001/fork", json={"start_step": 2})
    assert response.status_code == 200, response.text
    kinds = [r.kind for r in channel.requests]
    # e2 dropped the fork; e1 was first asked whether the new workflow exists, then forked.
    assert kinds == [RequestKind.FORK, RequestKind.GET_WORKFLOW, RequestKind.FORK]
    assert len(channel.forks) == 1


async def test_executor_errors_and_timeouts_are_reported(
    api: httpx.AsyncClient, channel: FakeChannel
) -> None:
    channel.behaviour["e1"] = "error"
    failed = await api.post(f"{WF}/wf-001/delete")
    assert failed.status_code == 502
    assert "<b>boom</b>" in failed.json()["error"]  # JSON carries it as text; pages escape it
    assert failed.json()["action"]["outcome"] == "failed"
    channel.behaviour["e1"] = "silent"
    slow = await api.post(f"{WF}/wf-001/delete")
    assert slow.status_code == 504
    assert "did not answer" in slow.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "parameter"),
    [
        ("wf-001/fork", {}, "start_step"),
        ("wf-001/fork", {"start_step": 0}, "start_step"),
        ("wf-001/fork", {"start_step": "3"}, "start_step"),
        ("wf-001/cancel", {"cancel_childs": True}, "cancel_childs"),
        ("wf-001/cancel", {"cancel_children": "yes"}, "cancel_children"),
        ("wf-001/cancel", [1, 2], "body"),
        ("wf-001/resume", {"queue_name": "q\x00"}, "queue_name"),
    ],
)
async def test_bad_bodies_are_refused_and_change_nothing(
    api: httpx.AsyncClient, channel: FakeChannel, path: str, body: Any, parameter: str
) -> None:
    response = await api.post(f"{WF}/{path}", json=body)
    assert response.status_code == 400
    assert parameter in response.json()["error"]
    assert channel.requests == []
    assert channel.audit == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/x-www-form-urlencoded"},  # an empty cross-site form
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
async def test_cross_site_requests_are_refused(
    api: httpx.AsyncClient, channel: FakeChannel, headers: dict[str, str]
) -> None:
    response = await api.post(f"{WF}/wf-001/cancel", headers=headers)
    assert response.status_code in (400, 403)
    assert channel.requests == []
    same_site = await api.post(f"{WF}/wf-001/cancel", headers={"Origin": "http://console"})
    assert same_site.status_code == 200


async def test_form_encoded_bodies_are_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(
        f"{WF}/wf-001/cancel",
        content=b"cancel_children=true",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert "application/json" in response.json()["error"]


async def test_tokens_name_the_actor(
    api: httpx.AsyncClient, channel: FakeChannel, seeded_store: Store
) -> None:
    async with seeded_store.sessionmaker.begin() as session:
        token = await create_token(session, "deploy-bot")
    ok = await api.post(f"{WF}/wf-001/cancel", headers={"Authorization": f"Bearer {token}"})
    assert ok.json()["actor"] == "token:deploy-bot"
    bad = await api.post(f"{WF}/wf-001/cancel", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert len(channel.requests) == 1


async def test_bulk_cancel_by_filter_previews_then_runs(
    api: httpx.AsyncClient, channel: FakeChannel, seeded_store: Store
) -> None:
    request = {"action": "cancel", "filter": {"name": "bulk"}}
    preview = await api.post("/api/v1/apps/orders/bulk", json={**request, "dry_run": True})
    assert preview.status_code == 200
    matched = preview.json()["matched"]
    assert matched == 30
    assert channel.requests == []
    started = await api.post("/api/v1/apps/orders/bulk", json=request)
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    job: dict[str, Any] = {}
    for _ in range(100):
        job = (await api.get(f"/api/v1/apps/orders/bulk/{job_id}")).json()
        if job["state"] != "running":
            break
        await asyncio.sleep(0.05)
    assert job["state"] == "succeeded"
    assert (job["total"], job["done"], job["succeeded"], job["failed"]) == (30, 30, 30, 0)
    assert {item["outcome"] for item in job["items"]} == {"succeeded"}
    assert len(job["items"]) == 30
    # One DBOS request with workflow_ids for the whole chunk.
    assert [r.kind for r in channel.requests] == [RequestKind.CANCEL]
    assert len(channel.requests[0].params["workflow_ids"]) == 30
    history = (await api.get("/api/v1/apps/orders/bulk")).json()
    assert [j["job_id"] for j in history] == [job_id]
    [row] = await audit_rows(seeded_store, action="bulk.cancel")
    assert row.outcome == "succeeded"
    assert row.record["result"] == {"total": 30, "succeeded": 30, "failed": 0}


async def test_bulk_failures_are_per_workflow(api: httpx.AsyncClient, channel: FakeChannel) -> None:
    channel.behaviour["e1"] = "error"
    started = await api.post(
        "/api/v1/apps/orders/bulk",
        json={"action": "delete", "workflow_ids": ["wf-001", "wf-002"]},
    )
    job_id = started.json()["job_id"]
    job: dict[str, Any] = {}
    for _ in range(100):
        job = (await api.get(f"/api/v1/apps/orders/bulk/{job_id}")).json()
        if job["state"] != "running":
            break
        await asyncio.sleep(0.05)
    assert job["state"] == "failed"
    assert [(i["workflow_id"], i["outcome"]) for i in job["items"]] == [
        ("wf-001", "failed"),
        ("wf-002", "failed"),
    ]
    # The chunk failed, then each workflow was asked alone to know which failed.
    assert len(channel.requests) == 3


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"action": "explode", "workflow_ids": ["a"]}, "action"),
        ({"action": "cancel"}, "workflow_ids"),
        ({"action": "cancel", "workflow_ids": ["a"], "filter": {"name": "x"}}, "workflow_ids"),
        ({"action": "cancel", "filter": {}}, "filter"),
        ({"action": "cancel", "filter": {"colour": "red"}}, "filter.colour"),
        ({"action": "cancel", "filter": {"status": ["NOPE"]}}, "status"),
        ({"action": "cancel", "workflow_ids": []}, "workflow_ids"),
    ],
)
async def test_bad_bulk_requests_are_refused(
    api: httpx.AsyncClient, channel: FakeChannel, body: dict[str, Any], parameter: str
) -> None:
    response = await api.post("/api/v1/apps/orders/bulk", json=body)
    assert response.status_code == 400
    assert parameter in response.json()["error"]
    assert channel.requests == []


async def test_audit_api_filters_and_pages(api: httpx.AsyncClient) -> None:
    for workflow_id in ("wf-001", "wf-002", "wf-003"):
        await api.post(f"{WF}/{workflow_id}/cancel")
    await api.post("/api/v1/apps/payments/workflows/x/cancel")
    page = (await api.get("/api/v1/audit", params={"app": "orders", "limit": 2})).json()
    assert [e["target"] for e in page["entries"]] == ["wf-003", "wf-002"]
    rest = (
        await api.get("/api/v1/audit", params={"app": "orders", "cursor": page["next_cursor"]})
    ).json()
    assert [e["target"] for e in rest["entries"] if e["action"] == "workflow.cancel"] == ["wf-001"]
    rejected = (await api.get("/api/v1/audit", params={"outcome": "rejected"})).json()
    assert [e["app"] for e in rejected["entries"]] == ["payments"]
    prefix = (await api.get("/api/v1/audit", params={"action": "workflow."})).json()
    assert len(prefix["entries"]) == 4
    bad = await api.get("/api/v1/audit", params={"since": "yesterday"})
    assert bad.status_code == 400


async def test_live_reads_and_schedule_actions(
    api: httpx.AsyncClient, channel: FakeChannel
) -> None:
    events = await api.get(f"{WF}/wf-001/events")
    assert events.json() == {"events": [{"key": "progress", "value": '"50%"'}]}
    schedules = await api.get("/api/v1/apps/orders/schedules")
    assert schedules.json()["schedules"][0]["schedule_name"] == "nightly"
    paused = await api.post("/api/v1/apps/orders/schedules/nightly/pause")
    assert paused.status_code == 200
    assert paused.json()["action"] == "schedule.pause"
    backfill = await api.post(
        "/api/v1/apps/orders/schedules/nightly/backfill",
        json={"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    )
    assert backfill.status_code == 400
    offline = await api.get("/api/v1/apps/payments/schedules")
    assert offline.status_code == 503


async def test_executor_ids_are_chosen_newest_first(
    api: httpx.AsyncClient, channel: FakeChannel, seeded_store: Store
) -> None:
    await add_executors(seeded_store, executor("e9", ExecutorState.CONNECTED, last_seen_ms=10**13))
    await api.post(f"{WF}/wf-001/cancel")
    assert channel.requests[0].target == ExecutorId("e9")
