"""The management API's bulk jobs over a real store: previews, jobs, per-workflow failures.

Seeded world (``seed.py``): app ``orders`` with executor ``e1`` (v1) CONNECTED and ``e0`` DEAD;
workflows ``wf-001``... on v1; executors are played by ``FakeChannel``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from store.database import Store
from streams.records import RequestKind
from tests.component.console.channel import FakeChannel
from tests.component.console.seed import (
    audit_rows,
)

WF = "/api/v1/apps/orders/workflows"


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
    assert row.record is not None
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


async def test_a_bulk_rewind_asks_once_per_workflow_keeping_each_id(
    api: httpx.AsyncClient, channel: FakeChannel, seeded_store: Store
) -> None:
    started = await api.post(
        "/api/v1/apps/orders/bulk",
        json={"action": "rewind", "workflow_ids": ["wf-001", "wf-002"], "start_step": 2},
    )
    assert started.status_code == 202, started.text
    job = await _finished(api, started.json()["job_id"])
    assert (job["state"], job["succeeded"]) == ("succeeded", 2), job
    assert {(i["workflow_id"], i["new_workflow_id"]) for i in job["items"]} == {
        ("wf-001", None),
        ("wf-002", None),
    }
    assert sorted((r.kind, r.workflow_id, dict(r.params)) for r in channel.requests) == [
        (RequestKind.REWIND, "wf-001", {"start_step": 2}),
        (RequestKind.REWIND, "wf-002", {"start_step": 2}),
    ]
    [row] = await audit_rows(seeded_store, action="bulk.rewind")
    assert row.outcome == "succeeded"


async def test_a_bulk_rewind_on_a_client_without_it_fails_each_workflow_saying_why(
    api: httpx.AsyncClient, channel: FakeChannel
) -> None:
    channel.behaviour["e1"] = "unsupported"
    started = await api.post(
        "/api/v1/apps/orders/bulk", json={"action": "rewind", "workflow_ids": ["wf-001"]}
    )
    job = await _finished(api, started.json()["job_id"])
    assert job["state"] == "failed", job
    [item] = job["items"]
    assert item["outcome"] == "failed"
    assert item["error"] == "the Java client 1.1.0-m6 of executor e1 does not support it"


async def _finished(api: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = {}
    for _ in range(100):
        job = (await api.get(f"/api/v1/apps/orders/bulk/{job_id}")).json()
        if job["state"] != "running":
            break
        await asyncio.sleep(0.05)
    return job


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"action": "rewind", "workflow_ids": ["a"], "start_step": -1}, "start_step"),
        ({"action": "cancel", "workflow_ids": ["a"], "start_step": 1}, "start_step"),
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
