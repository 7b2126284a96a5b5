"""The management API's actions on one workflow over a real store: carried out once per key,
retried elsewhere, refused clearly, audited.

Seeded world (``seed.py``): app ``orders`` with executor ``e1`` (v1) CONNECTED and ``e0`` DEAD;
workflows ``wf-001``... on v1; executors are played by ``FakeChannel``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from recovery.state import ExecutorState
from store.database import Store
from store.tokens import create_token
from streams.ids import ExecutorId
from streams.records import ActionOutcome, RequestKind
from tests.component.console.channel import FakeChannel
from tests.component.console.seed import (
    add_executors,
    audit_rows,
    executor,
    on_version,
)
from tests.console_access import TESTER_ACTOR

WF = "/api/v1/apps/orders/workflows"


async def test_cancel_reaches_the_connected_executor_and_is_audited(
    api: httpx.AsyncClient, channel: FakeChannel, seeded_store: Store
) -> None:
    response = await api.post(f"{WF}/wf-001/cancel")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outcome"] == "succeeded"
    assert body["executor_id"] == "e1"
    assert body["actor"] == TESTER_ACTOR
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
    assert (row.actor, row.subject, row.outcome) == (TESTER_ACTOR, "wf-001", "succeeded")


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


async def test_restart_forks_from_before_the_first_step_on_the_workflows_version(
    api: httpx.AsyncClient, channel: FakeChannel
) -> None:
    response = await api.post(f"{WF}/wf-002/restart")
    assert response.status_code == 200, response.text
    new_id = response.json()["result"]["new_workflow_id"]
    assert new_id != "wf-002"
    # Step 0: before the first step in Python (1) and in TypeScript (0) alike.
    assert channel.forks[new_id] == ("wf-002", 0)


async def test_rewind_keeps_the_id_on_the_workflows_version_and_is_audited(
    api: httpx.AsyncClient, channel: FakeChannel, seeded_store: Store
) -> None:
    response = await api.post(f"{WF}/wf-002/rewind", json={"start_step": 2})
    assert response.status_code == 200, response.text
    assert response.json()["action"] == "workflow.rewind"
    assert response.json()["result"] == {}
    [request] = channel.requests
    assert (request.kind, request.workflow_id, request.params) == (
        RequestKind.REWIND,
        "wf-002",
        {"start_step": 2},
    )
    assert channel.acted == [("rewind_workflow", "wf-002")]
    assert channel.forks == {}
    [row] = await audit_rows(seeded_store, action="workflow.rewind")
    assert (row.subject, row.outcome) == ("wf-002", "succeeded")
    # Without a start step: the client's own first step (the request carries none).
    await api.post(f"{WF}/wf-002/rewind")
    assert channel.requests[-1].params == {}


async def test_a_verb_no_connected_client_supports_is_501_naming_it(
    api: httpx.AsyncClient, channel: FakeChannel, seeded_store: Store
) -> None:
    channel.behaviour["e1"] = "unsupported"
    response = await api.post(f"{WF}/wf-002/rewind", json={"start_step": 1})
    assert response.status_code == 501
    assert response.json()["error"] == "the Java client 1.1.0-m6 of executor e1 does not support it"
    assert response.json()["action"]["outcome"] == "rejected"
    assert response.json()["action"]["result"] == {"reason": "unsupported"}
    [row] = await audit_rows(seeded_store, action="workflow.rewind")
    assert row.outcome == "rejected"


async def test_a_verb_one_client_lacks_is_carried_out_by_another_that_has_it(
    api: httpx.AsyncClient, channel: FakeChannel, seeded_store: Store
) -> None:
    await add_executors(seeded_store, executor("e2", ExecutorState.CONNECTED))
    channel.behaviour["e2"] = "unsupported"
    channel.behaviour["e1"] = "unsupported"
    both = await api.post(f"{WF}/wf-002/rewind")
    assert both.status_code == 501
    assert "executor e2" in both.json()["error"]
    assert "executor e1" in both.json()["error"]
    del channel.behaviour["e1"]
    rewound = await api.post(f"{WF}/wf-002/rewind")
    assert rewound.status_code == 200, rewound.text
    assert rewound.json()["executor_id"] == "e1"
    assert channel.acted == [("rewind_workflow", "wf-002")]


async def test_a_metadata_only_executor_refusing_a_data_request_is_409(
    api: httpx.AsyncClient, channel: FakeChannel
) -> None:
    channel.behaviour["e1"] = "metadata_only"
    response = await api.get(f"{WF}/wf-001/events")
    assert response.status_code == 409, response.text
    assert "metadata-only Conductor mode" in response.json()["error"]


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
    # The probe needs no payload: the gateway asks DBOS with load_input/load_output false.
    probe = channel.requests[1]
    assert probe.payloads_private is True
    assert probe.workflow_id == channel.requests[0].params["new_workflow_id"]
    assert not any(r.payloads_private for r in (channel.requests[0], channel.requests[2]))


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
        ("wf-001/fork", {"start_step": -1}, "start_step"),
        ("wf-001/fork", {"start_step": "3"}, "start_step"),
        ("wf-001/cancel", {"cancel_childs": True}, "cancel_childs"),
        ("wf-001/cancel", {"cancel_children": "yes"}, "cancel_children"),
        ("wf-001/cancel", [1, 2], "body"),
        ("wf-001/resume", {"queue_name": "q\x00"}, "queue_name"),
        ("wf-001/rewind", {"start_step": -1}, "start_step"),
        ("wf-001/rewind", {"start_step": True}, "start_step"),
        ("wf-001/rewind", {"new_workflow_id": "x"}, "new_workflow_id"),
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


async def test_executor_ids_are_chosen_newest_first(
    api: httpx.AsyncClient, channel: FakeChannel, seeded_store: Store
) -> None:
    await add_executors(seeded_store, executor("e9", ExecutorState.CONNECTED, last_seen_ms=10**13))
    await api.post(f"{WF}/wf-001/cancel")
    assert channel.requests[0].target == ExecutorId("e9")
