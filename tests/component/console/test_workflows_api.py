"""The console's workflow, step and queue endpoints over a real seeded SQLite store: filters,
paging, parameter errors, and the live-first, store-fallback rule of the detail and steps."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from console.detail import WorkflowLookup
from management.params import MAX_LIMIT
from streams.ids import AppName, WorkflowId
from streams.records import StepInfo
from tests.component.console.seed import (
    BULK,
    OBSERVED_MS,
    T0,
    WORKFLOWS,
    XSS,
    ClientFactory,
    FakeLive,
    HangingLive,
    OfflineLive,
    TimingOutLive,
)

ORDERS_TOTAL = 8 + BULK
WORKFLOWS_URL = "/api/v1/apps/orders/workflows"


async def _ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get(WORKFLOWS_URL, params=params)
    assert response.status_code == 200, response.text
    return [w["workflow_id"] for w in response.json()["workflows"]]


async def test_default_page_is_newest_first_with_counts(client: httpx.AsyncClient) -> None:
    response = await client.get(WORKFLOWS_URL)
    assert response.status_code == 200
    body = response.json()
    assert body["limit"] == 50
    assert body["offset"] == 0
    assert body["next_cursor"] is None
    ids = [w["workflow_id"] for w in body["workflows"]]
    assert len(ids) == ORDERS_TOTAL
    assert ids[:2] == [f"bulk-{BULK - 1:03d}", f"bulk-{BULK - 2:03d}"]
    assert ids[-1] == "wf-001"
    assert body["counts"] == {
        "PENDING": 1,
        "ENQUEUED": 1,
        "DELAYED": 1,
        "SUCCESS": 3 + BULK,
        "ERROR": 1,
        "CANCELLED": 1,
        "MAX_RECOVERY_ATTEMPTS_EXCEEDED": 0,
    }


async def test_list_items_have_no_payloads_and_a_short_error(client: httpx.AsyncClient) -> None:
    response = await client.get(WORKFLOWS_URL, params={"status": "ERROR"})
    [item] = response.json()["workflows"]
    assert item == {
        "workflow_id": "wf-002",
        "status": "ERROR",
        "name": "checkout",
        "class_name": None,
        "queue_name": None,
        "application_version": "v1",
        "executor_id": "e1",
        "created_at": "2023-11-14T22:13:22.000Z",
        "updated_at": "2023-11-14T22:13:22.500Z",
        "completed_at": "2023-11-14T22:13:22.900Z",
        "parent_workflow_id": None,
        "error": item["error"],
    }
    assert item["error"].startswith(f"ValueError: bad cart {XSS}")
    assert len(item["error"]) < 600
    assert item["error"].endswith("more characters cut]")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "ERROR"}, ["wf-002"]),
        ({"status": "error"}, ["wf-002"]),
        ({"status": "PENDING,ENQUEUED"}, ["wf-004", "wf-003"]),
        ({"status": ["PENDING", "DELAYED"]}, ["wf-005", "wf-003"]),
        ({"status": ["CANCELLED", "ERROR,PENDING"]}, ["wf-007", "wf-003", "wf-002"]),
        ({"name": "ship"}, ["wf-005", "wf-004", "wf-003"]),
        ({"workflow_id_prefix": "wf-00"}, [f"wf-00{i}" for i in (7, 5, 4, 3, 2, 6, 1)]),
        ({"workflow_id_prefix": "dir/"}, ["dir/with?odd#id"]),
        ({"queue": "shipping", "status": "DELAYED"}, ["wf-005"]),
        ({"application_version": "v2", "name": "charge"}, ["wf-006"]),
        ({"executor_id": "e2"}, ["wf-006"]),
        ({"name": "nobody"}, []),
        (
            {"created_after": str(T0 + 5_000), "created_before": str(T0 + 7_000)},
            ["wf-007", "wf-005"],
        ),
        (
            {"created_after": "2023-11-14T22:13:25Z", "created_before": "2023-11-14T22:13:27"},
            ["wf-007", "wf-005"],
        ),
        (
            {
                "created_after": "2023-11-14T23:13:25+01:00",
                "created_before": "2023-11-14T22:13:27Z",
            },
            ["wf-007", "wf-005"],
        ),
        ({"created_before": str(T0 + 1_500)}, ["wf-001"]),
        ({"name": "checkout", "sort": "created_asc"}, ["wf-001", "wf-002"]),
        ({"name": "", "queue": "refunds"}, ["wf-007"]),
    ],
)
async def test_filters(
    client: httpx.AsyncClient, params: dict[str, Any], expected: list[str]
) -> None:
    assert await _ids(client, **params) == expected


async def test_counts_ignore_the_status_filter_but_not_the_others(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(WORKFLOWS_URL, params={"status": "ERROR", "name": "checkout"})
    counts = response.json()["counts"]
    assert counts["ERROR"] == 1
    assert counts["SUCCESS"] == 1
    assert sum(counts.values()) == 2


async def test_offset_paging(client: httpx.AsyncClient) -> None:
    everything = await _ids(client, limit=MAX_LIMIT)
    first = await client.get(WORKFLOWS_URL, params={"limit": 10})
    second = await client.get(WORKFLOWS_URL, params={"limit": 10, "offset": 10})
    assert [w["workflow_id"] for w in first.json()["workflows"]] == everything[:10]
    assert [w["workflow_id"] for w in second.json()["workflows"]] == everything[10:20]
    assert second.json()["offset"] == 10
    assert first.json()["next_cursor"] is not None
    last = await client.get(WORKFLOWS_URL, params={"limit": 10, "offset": ORDERS_TOTAL - 3})
    assert len(last.json()["workflows"]) == 3
    assert last.json()["next_cursor"] is None


@pytest.mark.parametrize("sort", ["created_desc", "created_asc"])
async def test_cursor_paging_walks_everything_once(client: httpx.AsyncClient, sort: str) -> None:
    expected = await _ids(client, limit=MAX_LIMIT, sort=sort)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 7, "sort": sort}
        if cursor is not None:
            params["cursor"] = cursor
        body = (await client.get(WORKFLOWS_URL, params=params)).json()
        seen.extend(w["workflow_id"] for w in body["workflows"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


@pytest.mark.parametrize(
    ("params", "parameter", "hint"),
    [
        ({"status": "DONE"}, "status", "PENDING, ENQUEUED"),
        ({"status": "SUCCESS,nope"}, "status", "is not one of"),
        ({"limit": "0"}, "limit", "from 1 to 500"),
        ({"limit": "501"}, "limit", "from 1 to 500"),
        ({"limit": "ten"}, "limit", "from 1 to 500"),
        ({"limit": ["5", "6"]}, "limit", "at most once"),
        ({"offset": "-1"}, "offset", ">= 0"),
        ({"offset": "1.5"}, "offset", ">= 0"),
        ({"sort": "name"}, "sort", "created_desc, created_asc"),
        ({"created_after": "yesterday"}, "created_after", "ISO 8601"),
        ({"created_before": "2024-13-01"}, "created_before", "epoch milliseconds"),
        ({"created_after": "2000", "created_before": "1000"}, "created_before", "later than"),
        ({"cursor": "abc", "offset": "5"}, "cursor", "not both"),
        ({"cursor": "not-a-cursor"}, "cursor", "next_cursor"),
        ({"name": "x" * 600}, "name", "at most 512"),
        ({"stauts": "ERROR"}, "stauts", "allowed are status, name"),
    ],
)
async def test_bad_parameters_are_400_naming_them(
    client: httpx.AsyncClient, params: dict[str, Any], parameter: str, hint: str
) -> None:
    response = await client.get(WORKFLOWS_URL, params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert f"invalid parameter {parameter!r}" in message
    assert hint in message


async def test_a_cursor_of_the_other_order_is_400(client: httpx.AsyncClient) -> None:
    body = (await client.get(WORKFLOWS_URL, params={"limit": 5})).json()
    response = await client.get(
        WORKFLOWS_URL, params={"cursor": body["next_cursor"], "sort": "created_asc"}
    )
    assert response.status_code == 400
    assert "'cursor'" in response.json()["error"]


async def test_an_app_with_no_workflows_has_an_empty_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/apps/nobody/workflows")
    assert response.status_code == 200
    body = response.json()
    assert body["workflows"] == []
    assert set(body["counts"].values()) == {0}


# -- detail and steps ------------------------------------------------------------------------------


async def test_detail_from_the_store_is_stale(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{WORKFLOWS_URL}/wf-001")
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "store"
    assert body["stale_as_of"] == "2023-11-14T22:14:20.000Z"
    assert body["input"] == '[["cart-1"], {}]'
    assert body["output"] == '"paid"'
    assert body["error"] is None
    assert body["children"] == [{"workflow_id": "wf-006", "status": "SUCCESS"}]
    assert body["completed_at"] == "2023-11-14T22:13:23.000Z"
    assert body["has_input"] is True


async def test_detail_shape_covers_the_whole_status(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"{WORKFLOWS_URL}/wf-005")).json()
    assert body["delay_until"] == "2023-11-14T23:13:20.000Z"
    assert body["parent_workflow_id"] is None
    assert body["forked_from"] is None
    child = (await client.get(f"{WORKFLOWS_URL}/wf-006")).json()
    assert child["parent_workflow_id"] == "wf-001"
    assert child["class_name"] == "Payments"


async def test_detail_live_first(make_client: ClientFactory) -> None:
    stored = next(w for w in WORKFLOWS if w.workflow_id == "wf-003")
    live = FakeLive(
        workflows={"wf-003": replace(stored, status="SUCCESS", output='"shipped"', has_output=True)}
    )
    async with make_client(live) as client:
        body = (await client.get(f"{WORKFLOWS_URL}/wf-003")).json()
    assert body["source"] == "live"
    assert body["stale_as_of"] is None
    assert body["status"] == "SUCCESS"
    assert body["output"] == '"shipped"'
    assert live.calls == [("get_workflow", "orders", "wf-003")]


@pytest.mark.parametrize("live", [None, OfflineLive(), TimingOutLive(), FakeLive()])
async def test_detail_falls_back_to_the_store(make_client: ClientFactory, live: object) -> None:
    async with make_client(live) as client:
        response = await client.get(f"{WORKFLOWS_URL}/wf-002")
    body = response.json()
    assert body["source"] == "store"
    assert body["stale_as_of"] == "2023-11-14T22:14:20.000Z"
    assert body["status"] == "ERROR"


async def test_a_hanging_executor_costs_only_the_budget(make_client: ClientFactory) -> None:
    live = HangingLive()
    async with make_client(live, live_timeout_s=0.05) as client:
        detail = await client.get(f"{WORKFLOWS_URL}/wf-002")
        steps = await client.get(f"{WORKFLOWS_URL}/wf-002/steps")
    assert detail.json()["source"] == "store"
    assert steps.json()["source"] == "store"
    assert live.cancelled == 2


@pytest.mark.parametrize("live", [None, OfflineLive(), FakeLive()])
async def test_unknown_workflow_is_404(make_client: ClientFactory, live: object) -> None:
    async with make_client(live) as client:
        for path in ("nope", "nope/steps"):
            response = await client.get(f"{WORKFLOWS_URL}/{path}")
            assert response.status_code == 404
            assert response.json() == {"error": "no workflow 'nope' in app 'orders'"}


async def test_a_workflow_only_a_live_executor_knows(make_client: ClientFactory) -> None:
    fresh = replace(WORKFLOWS[0], workflow_id=WorkflowId("brand-new"), status="PENDING")
    live = FakeLive(workflows={"brand-new": fresh}, steps={"brand-new": ()})
    async with make_client(live) as client:
        detail = await client.get(f"{WORKFLOWS_URL}/brand-new")
        steps = await client.get(f"{WORKFLOWS_URL}/brand-new/steps")
    assert detail.json()["source"] == "live"
    assert detail.json()["children"] == []
    assert steps.json() == {
        "steps": [],
        "source": "live",
        "stale_as_of": None,
        "payloads_hidden": None,
    }


async def test_steps_from_the_store(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{WORKFLOWS_URL}/wf-001/steps")
    body = response.json()
    assert body["source"] == "store"
    assert body["stale_as_of"] == "2023-11-14T22:14:21.000Z"
    assert [s["function_name"] for s in body["steps"]] == ["reserve_stock", "charge", "notify"]
    assert body["steps"][1] == {
        "function_id": 2,
        "function_name": "charge",
        "output": None,
        "error": None,
        "child_workflow_id": "wf-006",
        "started_at": "2023-11-14T22:13:21.400Z",
        "completed_at": "2023-11-14T22:13:22.100Z",
        "duration_ms": 700,
    }


async def test_steps_of_a_workflow_without_stored_steps(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"{WORKFLOWS_URL}/wf-003/steps")).json()
    assert body == {
        "steps": [],
        "source": "store",
        "stale_as_of": "2023-11-14T22:14:20.000Z",
        "payloads_hidden": None,
    }


async def test_steps_live_first(make_client: ClientFactory) -> None:
    live = FakeLive(steps={"wf-003": (StepInfo(function_id=1, function_name="pack"),)})
    async with make_client(live) as client:
        body = (await client.get(f"{WORKFLOWS_URL}/wf-003/steps")).json()
    assert body["source"] == "live"
    assert body["stale_as_of"] is None
    assert body["steps"][0]["function_name"] == "pack"
    assert body["steps"][0]["duration_ms"] is None


async def test_workflow_ids_with_reserved_characters(client: httpx.AsyncClient) -> None:
    detail = await client.get(f"{WORKFLOWS_URL}/dir%2Fwith%3Fodd%23id")
    steps = await client.get(f"{WORKFLOWS_URL}/dir%2Fwith%3Fodd%23id/steps")
    assert detail.json()["workflow_id"] == "dir/with?odd#id"
    assert steps.json()["steps"] == []


async def test_lookup_budget_is_the_live_timeout(seeded_store: object) -> None:
    lookup = WorkflowLookup(seeded_store, HangingLive(), live_timeout_s=0.01)  # type: ignore[arg-type]
    view = await lookup.workflow(AppName("orders"), WorkflowId("wf-001"))
    assert view is not None
    assert view.stale_as_of_ms == OBSERVED_MS


# -- queues ----------------------------------------------------------------------------------------


async def test_queues(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/apps/orders/queues")
    assert response.status_code == 200
    # refunds holds only a cancelled workflow: nothing waits or runs there.
    assert response.json() == [
        {"queue_name": "shipping", "enqueued": 1, "pending": 1, "delayed": 1},
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["wf-003", "wf-004", "wf-005"]),
        ({"queue": "shipping", "limit": 2}, ["wf-003", "wf-004"]),
        ({"queue": "shipping", "limit": 2, "offset": 2}, ["wf-005"]),
        ({"queue": "refunds"}, []),
    ],
)
async def test_queued_workflows(
    client: httpx.AsyncClient, params: dict[str, Any], expected: list[str]
) -> None:
    response = await client.get("/api/v1/apps/orders/queued-workflows", params=params)
    assert response.status_code == 200
    body = response.json()
    assert [w["workflow_id"] for w in body["workflows"]] == expected
    assert body["limit"] == params.get("limit", 50)
    assert body["offset"] == params.get("offset", 0)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [({"limit": "0"}, "limit"), ({"offset": "x"}, "offset"), ({"status": "ERROR"}, "status")],
)
async def test_queued_workflows_bad_parameters(
    client: httpx.AsyncClient, params: dict[str, str], parameter: str
) -> None:
    response = await client.get("/api/v1/apps/orders/queued-workflows", params=params)
    assert response.status_code == 400
    assert f"invalid parameter {parameter!r}" in response.json()["error"]
