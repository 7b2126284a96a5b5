"""The dashboard's operator actions over a real seeded store and a fake executor behind a real
``CommandChannel``: confirmation pages, same-origin form posts, actions that redirect with their
audited outcome, escaped failures, bulk previews and jobs, the audit page, a workflow's
communication, schedules and versions."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from console.actors import ActorPolicy
from console.app import create_app
from management.channel import CommandChannel
from management.idempotency import derived_workflow_id
from store.audit import AuditFilter, list_audit, record_audit
from store.database import Store
from store.models import AuditRow
from store.workflow_projection import delete_workflows, upsert_workflows
from streams.ids import GatewayId
from streams.records import (
    ActionOutcome,
    ExecutorReply,
    ExecutorRequest,
    OperatorAction,
    ReplyFailure,
    RequestKind,
    WorkflowDeleted,
)
from tests.component.console.seed import BILLING, ORDERS, WORKFLOWS, XSS

HTML = {"Accept": "text/html,application/xhtml+xml"}
SAME_ORIGIN = {**HTML, "Origin": "http://console"}
ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt;"
_QUERIES = (
    RequestKind.GET_EVENTS,
    RequestKind.GET_NOTIFICATIONS,
    RequestKind.GET_STREAMS,
    RequestKind.LIST_SCHEDULES,
    RequestKind.LIST_VERSIONS,
)
_NEW_STATUS = {RequestKind.CANCEL: "CANCELLED", RequestKind.RESUME: "ENQUEUED"}


@dataclass
class FakeExecutor:
    """Executor ``e1`` of ``orders`` behind gateway ``gw-1`` (a real ``CommandChannel``).

    Answers each ``ExecutorRequest`` with the result ``gateway.management`` gives, and writes the
    status a cancel or resume leaves into the store, as the worker would once it sees it.

    Attributes:
        error: answer every action (not a read) with this executor error.
        gate: when set, actions wait for it (a bulk job stays running until it is set).
    """

    store: Store
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notifications: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    streams: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    gate: asyncio.Event | None = None
    requests: list[ExecutorRequest] = field(default_factory=list)
    audited: list[OperatorAction] = field(default_factory=list)

    def acts(self, kind: RequestKind) -> list[ExecutorRequest]:
        return [r for r in self.requests if r.kind is kind]

    async def send(self, request: ExecutorRequest, wait_s: float) -> ExecutorReply | None:
        self.requests.append(request)
        if request.kind not in _QUERIES:
            if self.gate is not None:
                await self.gate.wait()
            if self.error is not None:
                return self._reply(
                    request, ok=False, failure=ReplyFailure.EXECUTOR_ERROR, error=self.error
                )
        return self._reply(request, ok=True, result=await self._answer(request))

    async def publish_audit(self, record: OperatorAction) -> None:
        self.audited.append(record)

    async def publish_deletions(self, records: Sequence[WorkflowDeleted]) -> None:
        """The worker's part, done at once: the store forgets the deleted workflows."""
        async with self.store.sessionmaker.begin() as session:
            await delete_workflows(session, records)

    async def _answer(self, request: ExecutorRequest) -> Any:
        ids = list(request.params.get("workflow_ids") or [request.workflow_id])
        wid = request.workflow_id
        match request.kind:
            case RequestKind.CANCEL | RequestKind.RESUME | RequestKind.DELETE:
                await self._set_status(ids, _NEW_STATUS.get(request.kind))
                return {"workflow_ids": ids}
            case RequestKind.FORK:
                return {"new_workflow_id": request.params["new_workflow_id"]}
            case RequestKind.GET_EVENTS:
                return {"events": self.events.get(wid, [])}
            case RequestKind.GET_NOTIFICATIONS:
                return {"notifications": self.notifications.get(wid, [])}
            case RequestKind.GET_STREAMS:
                return {"streams": self.streams.get(wid, [])}
            case RequestKind.LIST_SCHEDULES:
                return {"schedules": self.schedules}
            case RequestKind.TRIGGER_SCHEDULE:
                return {"workflow_id": "sched-run-1"}
            case RequestKind.PAUSE_SCHEDULE | RequestKind.RESUME_SCHEDULE:
                return {}
            case RequestKind.LIST_VERSIONS:
                return {"versions": self.versions}
            case RequestKind.SET_LATEST_VERSION:
                return {}
            case _:
                raise AssertionError(f"unexpected request {request.kind}")

    async def _set_status(self, ids: list[str], status: str | None) -> None:
        if status is None:
            return
        now_ms = int(time.time() * 1000)
        changed = [
            replace(w, status=status, updated_at_ms=now_ms, observed_at_ms=now_ms)
            for w in WORKFLOWS
            if w.workflow_id in ids and w.app == ORDERS
        ]
        async with self.store.sessionmaker.begin() as session:
            await upsert_workflows(session, changed)

    @staticmethod
    def _reply(request: ExecutorRequest, **fields: Any) -> ExecutorReply:
        return ExecutorReply(
            request_id=request.request_id,
            app=request.app,
            executor_id=request.target,
            gateway=GatewayId("gw-1"),
            ts_ms=int(time.time() * 1000),
            **fields,
        )


class HangingChannel:
    """A broker that takes every request and never brings an answer back."""

    async def send(self, request: ExecutorRequest, wait_s: float) -> ExecutorReply | None:
        await asyncio.Event().wait()
        return None

    async def publish_audit(self, record: OperatorAction) -> None:
        return None

    async def publish_deletions(self, records: Sequence[WorkflowDeleted]) -> None:
        return None


@dataclass
class Console:
    client: httpx.AsyncClient
    app: Starlette
    store: Store


@asynccontextmanager
async def serve(
    store: Store, channel: CommandChannel | None, **kwargs: Any
) -> AsyncIterator[Console]:
    app = create_app(store, channel=channel, **kwargs)
    async with LifespanManager(app) as running:
        transport = httpx.ASGITransport(app=running.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            yield Console(client=client, app=app, store=store)


@pytest.fixture
def executor(seeded_store: Store) -> FakeExecutor:
    return FakeExecutor(store=seeded_store)


@pytest.fixture
async def console(seeded_store: Store, executor: FakeExecutor) -> AsyncIterator[Console]:
    async with serve(seeded_store, executor) as running:
        yield running


async def _page(client: httpx.AsyncClient, path: str, status: int = 200, **kw: Any) -> str:
    response = await client.get(path, headers=HTML, **kw)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    return response.text


def _hidden(html: str, name: str) -> str:
    [value] = re.findall(rf'<input type="hidden" name="{name}" value="([^"]*)">', html)
    return str(value)


def _form_action(html: str) -> str:
    [action] = re.findall(r'<form method="post" action="([^"]*)"', html)
    return str(action)


async def _audit(
    store: Store, *, app: str | None = None, action: str | None = None
) -> list[AuditRow]:
    async with store.sessionmaker.begin() as session:
        page = await list_audit(session, AuditFilter(app=app, action=action), limit=500)
    return page.entries


async def _post(
    client: httpx.AsyncClient, path: str, data: Mapping[str, Any], **headers: str
) -> httpx.Response:
    return await client.post(path, data=dict(data), headers={**SAME_ORIGIN, **headers})


# -- one workflow: confirm, act, outcome ---------------------------------------------------------


async def test_confirmation_page_asks_and_carries_a_fresh_key(console: Console) -> None:
    html = await _page(console.client, "/apps/orders/workflows/wf-003/confirm?action=cancel")
    assert "Cancel workflow" in html
    assert 'data-testid="confirm-subject">wf-003</span>' in html
    assert _form_action(html) == "/apps/orders/workflows/wf-003/actions/cancel"
    assert re.fullmatch(r"[0-9a-f]{32}", _hidden(html, "idempotency_key"))
    assert 'href="/apps/orders/workflows/wf-003" data-testid="back-button"' in html
    assert "<dt>Status</dt><dd>PENDING</dd>" in html
    again = await _page(console.client, "/apps/orders/workflows/wf-003/confirm?action=cancel")
    assert _hidden(again, "idempotency_key") != _hidden(html, "idempotency_key")


async def test_confirmation_of_an_odd_id_posts_to_its_encoded_path(console: Console) -> None:
    html = await _page(
        console.client, "/apps/orders/workflows/dir%2Fwith%3Fodd%23id/confirm?action=delete"
    )
    assert _form_action(html) == "/apps/orders/workflows/dir%2Fwith%3Fodd%23id/actions/delete"
    assert 'name="delete_children"' in html


async def test_fork_confirmation_keeps_the_chosen_options(console: Console) -> None:
    html = await _page(
        console.client,
        "/apps/orders/workflows/wf-001/confirm",
        params={"action": "fork", "start_step": "2", "queue_name": 'q"1'},
    )
    assert 'name="start_step" type="number" value="2"' in html
    assert 'value="q&#34;1"' in html


async def test_detail_page_offers_the_actions_of_its_status(console: Console) -> None:
    pending = await _page(console.client, "/apps/orders/workflows/wf-003")
    for action in ("cancel", "resume", "restart", "fork", "delete"):
        assert f'data-testid="action-{action}"' in pending
    assert 'href="/apps/orders/workflows/wf-003/confirm?action=cancel"' in pending
    done = await _page(console.client, "/apps/orders/workflows/wf-001")
    assert 'data-testid="action-cancel"' not in done
    assert 'data-testid="action-resume"' not in done
    assert 'data-testid="action-restart"' in done
    # Each step offers a fork from it.
    assert 'href="/apps/orders/workflows/wf-001/confirm?action=fork&amp;start_step=2"' in done


async def test_unknown_action_is_a_404(console: Console) -> None:
    await _page(console.client, "/apps/orders/workflows/wf-003/confirm?action=explode", 404)
    response = await _post(console.client, "/apps/orders/workflows/wf-003/actions/explode", {})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "text/html"},
        {"Accept": "text/html", "Origin": "http://evil.example"},
        {"Accept": "text/html", "Sec-Fetch-Site": "cross-site", "Origin": "http://console"},
    ],
)
async def test_form_post_from_elsewhere_is_refused(
    console: Console, executor: FakeExecutor, headers: dict[str, str]
) -> None:
    response = await console.client.post(
        "/apps/orders/workflows/wf-003/actions/cancel",
        data={"idempotency_key": "k-evil"},
        headers=headers,
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert executor.requests == []
    assert await _audit(console.store) == []


async def test_cancel_redirects_to_the_workflow_with_its_audited_outcome(
    console: Console, executor: FakeExecutor
) -> None:
    response = await _post(
        console.client,
        "/apps/orders/workflows/wf-003/actions/cancel",
        {"idempotency_key": "key-cancel-1"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/apps/orders/workflows/wf-003?done=key-cancel-1"
    [request] = executor.acts(RequestKind.CANCEL)
    assert request.target == "e1"
    assert dict(request.params) == {"cancel_children": False}

    html = await _page(console.client, response.headers["location"])
    assert 'data-testid="flash" data-outcome="succeeded"' in html
    assert 'Cancel of <span class="mono">wf-003</span>: succeeded.' in html
    assert 'data-testid="status">CANCELLED<' in html

    [row] = await _audit(console.store)
    assert (row.app, row.actor, row.action, row.subject, row.outcome) == (
        "orders",
        "local",
        "workflow.cancel",
        "wf-003",
        "succeeded",
    )
    assert [r.action_id for r in executor.audited] == ["key-cancel-1"]


async def test_a_double_submit_acts_once(console: Console, executor: FakeExecutor) -> None:
    path = "/apps/orders/workflows/wf-004/actions/cancel"
    form = {"idempotency_key": "key-twice", "cancel_children": "on"}
    first, second = await asyncio.gather(
        _post(console.client, path, form), _post(console.client, path, form)
    )
    third = await _post(console.client, path, form)
    assert {first.status_code, second.status_code, third.status_code} == {303}
    assert third.headers["location"] == first.headers["location"]
    [request] = executor.acts(RequestKind.CANCEL)
    assert request.params["cancel_children"] is True
    assert len(await _audit(console.store, action="workflow.cancel")) == 1


async def test_an_executor_error_is_shown_escaped_with_its_status(
    console: Console, executor: FakeExecutor
) -> None:
    executor.error = f"workflow is busy {XSS}"
    response = await _post(
        console.client,
        "/apps/orders/workflows/wf-002/actions/resume",
        {"idempotency_key": "key-fails"},
    )
    assert response.status_code == 502
    html = response.text
    assert XSS not in html
    assert f"workflow is busy {ESCAPED_XSS}" in html
    assert 'data-testid="action-error"' in html
    # Confirming again is a new attempt: the page carries a new key.
    assert _hidden(html, "idempotency_key") != "key-fails"
    [row] = await _audit(console.store)
    assert (row.action, row.outcome) == ("workflow.resume", "failed")


async def test_no_executor_of_the_app_is_a_503_saying_so(console: Console) -> None:
    response = await _post(
        console.client, "/apps/billing/workflows/inv-1/actions/cancel", {"idempotency_key": "k-b"}
    )
    assert response.status_code == 503
    assert "no executor of app billing is connected" in response.text
    assert "Cancel workflow" in response.text
    [row] = await _audit(console.store, app=BILLING)
    assert row.outcome == "rejected"


async def test_resume_needs_an_executor_of_the_workflow_version(
    console: Console, executor: FakeExecutor
) -> None:
    response = await _post(
        console.client, "/apps/orders/workflows/bulk-000/actions/resume", {"idempotency_key": "k"}
    )
    assert response.status_code == 409
    assert "no executor of application version v2" in response.text
    assert executor.requests == []


async def test_a_bad_option_shows_the_confirmation_again_with_a_400(
    console: Console, executor: FakeExecutor
) -> None:
    response = await _post(
        console.client,
        "/apps/orders/workflows/wf-001/actions/fork",
        {"idempotency_key": "k-fork", "start_step": "0", "application_version": "v9"},
    )
    assert response.status_code == 400
    assert "start_step" in response.text
    assert 'value="v9"' in response.text  # what was typed stays
    assert executor.requests == []


async def test_fork_shows_the_new_workflow(console: Console, executor: FakeExecutor) -> None:
    response = await _post(
        console.client,
        "/apps/orders/workflows/wf-001/actions/fork",
        {"idempotency_key": "k-fork-2", "start_step": "2"},
    )
    assert response.status_code == 303
    [request] = executor.acts(RequestKind.FORK)
    new_id = derived_workflow_id(ORDERS, "k-fork-2")
    assert dict(request.params) == {"start_step": 2, "new_workflow_id": new_id}
    html = await _page(console.client, response.headers["location"])
    assert f'href="/apps/orders/workflows/{new_id}"' in html


async def test_delete_goes_back_to_the_list_with_the_outcome(
    console: Console, executor: FakeExecutor
) -> None:
    response = await _post(
        console.client,
        "/apps/orders/workflows/wf-007/actions/delete",
        {"idempotency_key": "k-del", "delete_children": "on"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/apps/orders/workflows?done=k-del"
    assert executor.acts(RequestKind.DELETE)[0].params["delete_children"] is True
    html = await _page(console.client, response.headers["location"])
    assert 'data-testid="flash" data-outcome="succeeded"' in html


async def test_an_actor_is_required_when_the_console_says_so(seeded_store: Store) -> None:
    policy = ActorPolicy(require_token=True)
    async with serve(seeded_store, FakeExecutor(store=seeded_store), actor_policy=policy) as c:
        response = await _post(
            c.client, "/apps/orders/workflows/wf-003/actions/cancel", {"idempotency_key": "k"}
        )
    assert response.status_code == 401
    assert "requires an API token" in response.text


# -- a workflow's communication ------------------------------------------------------------------


async def test_detail_page_shows_events_notifications_and_streams_escaped(
    console: Console, executor: FakeExecutor
) -> None:
    executor.events["wf-003"] = [{"key": "progress", "value": f"50% {XSS}"}]
    executor.notifications["wf-003"] = [
        {"topic": "pay", "message": XSS, "created_at_ms": 1_700_000_000_000, "consumed": True}
    ]
    executor.streams["wf-003"] = [{"key": "log", "values": ["one", "two", XSS]}]
    html = await _page(console.client, "/apps/orders/workflows/wf-003")
    assert XSS not in html
    assert html.count('data-testid="event-row"') == 1
    assert f"50% {ESCAPED_XSS}" in html
    assert html.count('data-testid="notification-row"') == 1
    assert "2023-11-14 22:13:20.000 UTC" in html
    assert '<span class="count">3</span>' in html
    assert 'data-testid="communication-unavailable"' not in html


async def test_detail_page_says_when_no_executor_answers(console: Console) -> None:
    html = await _page(console.client, "/apps/billing/workflows/inv-1")
    assert 'data-testid="communication-unavailable"' in html
    assert "no executor of app billing is connected" in html


async def test_detail_page_without_a_broker_says_so(seeded_store: Store) -> None:
    async with serve(seeded_store, None) as c:
        html = await _page(c.client, "/apps/orders/workflows/wf-002")
    assert "Not available: actions need the Kafka broker" in html


async def test_a_silent_executor_does_not_hold_the_page(seeded_store: Store) -> None:
    async with serve(seeded_store, HangingChannel(), live_timeout_s=0.2) as c:
        started = time.monotonic()
        html = await _page(c.client, "/apps/orders/workflows/wf-003")
    assert time.monotonic() - started < 5
    assert "no executor of app orders answered within 0.2 s" in html


# -- the workflows list and bulk jobs ------------------------------------------------------------


async def test_list_rows_have_boxes_for_the_selected_form(console: Console) -> None:
    html = await _page(console.client, "/apps/orders/workflows", params={"status": "PENDING"})
    assert 'form="bulk-selected" data-select' in html
    assert 'data-testid="bulk-selected-cancel"' in html
    assert 'data-testid="bulk-filter-form"' in html
    assert '<input type="hidden" name="status" value="PENDING">' in html
    unfiltered = await _page(console.client, "/apps/orders/workflows")
    # "All matching" needs a filter: an empty one would act on every workflow.
    assert 'data-testid="bulk-filter-form"' not in unfiltered
    partial = await console.client.get(
        "/apps/orders/workflows", headers={"X-Baton-Partial": "live"}
    )
    assert "<form" not in partial.text


async def test_bulk_preview_of_a_filter_counts_the_matches(console: Console) -> None:
    html = await _page(
        console.client,
        "/apps/orders/bulk/new",
        params={"scope": "filter", "action": "cancel", "name": "bulk"},
    )
    assert 'data-testid="bulk-matched">30<' in html
    assert html.count('<li><a class="mono" href="/apps/orders/workflows/bulk-') == 20
    assert _form_action(html) == "/apps/orders/bulk"
    assert _hidden(html, "name") == "bulk"
    assert _hidden(html, "scope") == "filter"
    assert re.fullmatch(r"[0-9a-f]{32}", _hidden(html, "idempotency_key"))


async def test_bulk_preview_of_ticked_rows(console: Console) -> None:
    response = await _post(
        console.client,
        "/apps/orders/bulk/new",
        {"scope": "selected", "action": "resume", "workflow_id": ["wf-002", "wf-007"]},
    )
    assert response.status_code == 200
    assert 'data-testid="bulk-matched">2<' in response.text
    assert 'name="queue_name"' in response.text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"scope": "selected", "action": "cancel"}, "select at least one workflow"),
        ({"scope": "filter", "action": "cancel"}, "an empty filter would select every workflow"),
        ({"scope": "filter", "action": "fork", "name": "x"}, "must be one of cancel"),
        ({"scope": "filter", "action": "cancel", "status": "NOPE"}, "is not one of PENDING"),
    ],
)
async def test_bulk_preview_refuses_a_bad_selection(
    console: Console, form: dict[str, str], message: str
) -> None:
    html = await _page(console.client, "/apps/orders/bulk/new", 400, params=form)
    assert message in html
    assert 'data-testid="confirm-form"' not in html


async def test_bulk_job_runs_and_shows_each_outcome(
    console: Console, executor: FakeExecutor
) -> None:
    form = {
        "scope": "selected",
        "action": "cancel",
        "workflow_id": ["wf-003", "wf-004"],
        "idempotency_key": "job-cancel-1",
    }
    response = await _post(console.client, "/apps/orders/bulk", form)
    assert response.status_code == 303
    assert response.headers["location"] == "/apps/orders/bulk/job-cancel-1"
    again = await _post(console.client, "/apps/orders/bulk", form)
    assert again.headers["location"] == response.headers["location"]
    await console.app.state.bulk.wait("job-cancel-1")

    html = await _page(console.client, "/apps/orders/bulk/job-cancel-1")
    assert 'data-testid="job-state" data-state="succeeded"' in html
    assert "2 of 2 done: 2 succeeded, 0 failed" in html
    assert html.count('data-outcome="succeeded"') == 2
    assert 'data-refresh-ms="0"' in html  # finished: no more refreshing
    [request] = executor.acts(RequestKind.CANCEL)
    assert sorted(request.params["workflow_ids"]) == ["wf-003", "wf-004"]

    history = await _page(console.client, "/apps/orders/bulk")
    assert history.count('data-testid="bulk-job-row"') == 1
    assert 'href="/apps/orders/bulk/job-cancel-1"' in history
    [row] = await _audit(console.store, action="bulk.cancel")
    assert (row.subject, row.outcome) == ("job-cancel-1", "succeeded")


async def test_a_running_job_page_refreshes_its_progress(
    console: Console, executor: FakeExecutor
) -> None:
    executor.gate = asyncio.Event()
    form = {"scope": "filter", "action": "cancel", "queue": "shipping", "idempotency_key": "job-r"}
    response = await _post(console.client, "/apps/orders/bulk", form)
    assert response.status_code == 303
    html = await _page(console.client, "/apps/orders/bulk/job-r")
    assert 'data-testid="job-state" data-state="running"' in html
    assert 'id="live" data-refresh-ms="5000"' in html
    partial = await console.client.get(
        "/apps/orders/bulk/job-r", headers={"X-Baton-Partial": "live"}
    )
    assert "<html" not in partial.text
    assert "0 of 3 done" in partial.text
    assert 'data-refresh-ms="5000"' in await _page(console.client, "/apps/orders/bulk")

    executor.gate.set()
    await console.app.state.bulk.wait("job-r")
    done = await _page(console.client, "/apps/orders/bulk/job-r")
    assert "3 of 3 done: 3 succeeded, 0 failed" in done


async def test_a_failed_bulk_item_shows_its_error_escaped(
    console: Console, executor: FakeExecutor
) -> None:
    executor.error = XSS
    form = {"scope": "selected", "action": "delete", "workflow_id": "wf-001"}
    response = await _post(console.client, "/apps/orders/bulk", {**form, "idempotency_key": "j-f"})
    await console.app.state.bulk.wait("j-f")
    html = await _page(console.client, response.headers["location"])
    assert 'data-testid="job-state" data-state="failed"' in html
    assert 'data-outcome="failed"' in html
    assert XSS not in html
    assert ESCAPED_XSS in html


async def test_unknown_bulk_job_is_a_404(console: Console) -> None:
    html = await _page(console.client, "/apps/orders/bulk/nope", 404)
    assert "no bulk job" in html


async def test_bulk_start_without_same_origin_is_refused(
    console: Console, executor: FakeExecutor
) -> None:
    response = await console.client.post(
        "/apps/orders/bulk",
        data={"scope": "selected", "action": "cancel", "workflow_id": "wf-003"},
        headers=HTML,
    )
    assert response.status_code == 403
    assert await console.app.state.bulk.history(ORDERS) == []


# -- the audit page ------------------------------------------------------------------------------


async def _seed_actions(store: Store, count: int) -> None:
    records = [
        OperatorAction(
            action_id=f"seeded-{i:03d}",
            app=ORDERS if i % 2 else BILLING,
            actor="token:alice" if i % 3 == 0 else "local",
            action="workflow.cancel" if i % 2 else "schedule.pause",
            target=f"wf-{i:03d}",
            params={"n": i},
            outcome=ActionOutcome.SUCCEEDED if i % 5 else ActionOutcome.REJECTED,
            requested_at_ms=1_700_000_000_000 + i * 1000,
            finished_at_ms=1_700_000_000_000 + i * 1000 + 10,
            error=None if i % 5 else f"refused {XSS}",
        )
        for i in range(count)
    ]
    async with store.sessionmaker.begin() as session:
        await record_audit(session, records)


def _audit_rows(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-testid="audit-row" data-action="([^"]*)" data-outcome="([^"]*)"', html)


async def test_audit_page_filters(console: Console) -> None:
    await _seed_actions(console.store, 20)
    html = await _page(console.client, "/audit")
    assert len(_audit_rows(html)) == 20
    assert XSS not in html
    assert f"refused {ESCAPED_XSS}" in html
    assert 'data-testid="audit-link" aria-current="page"' in html

    rejected = await _page(console.client, "/audit", params={"outcome": "rejected"})
    assert {o for _, o in _audit_rows(rejected)} == {"rejected"}
    assert len(_audit_rows(rejected)) == 4
    assert '<option value="rejected" selected>' in rejected

    orders = await _page(console.client, "/audit", params={"app": "orders", "actor": "token:alice"})
    assert len(_audit_rows(orders)) == 3  # i = 3, 9, 15
    assert 'data-testid="tab-audit" aria-current="page"' in orders

    prefix = await _page(console.client, "/audit", params={"action": "schedule."})
    assert {a for a, _ in _audit_rows(prefix)} == {"schedule.pause"}
    target = await _page(console.client, "/audit", params={"target": "wf-007"})
    assert len(_audit_rows(target)) == 1
    assert 'href="/apps/orders/workflows/wf-007"' in target


async def test_audit_page_pages_by_cursor(console: Console) -> None:
    await _seed_actions(console.store, 70)
    first = await _page(console.client, "/audit")
    assert len(_audit_rows(first)) == 50
    assert 'data-refresh-ms="5000"' in first
    [next_href] = re.findall(r'href="([^"]*)" data-testid="next-page"', first)
    second = await _page(console.client, next_href.replace("&amp;", "&"))
    assert len(_audit_rows(second)) == 20
    assert 'data-testid="first-page"' in second
    assert 'data-testid="next-page"' not in second
    assert 'data-refresh-ms="0"' in second  # an older page does not take in new entries


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"outcome": "great"}, "outcome"),
        ({"cursor": "garbage"}, "cursor"),
        ({"app": "a!b"}, "invalid app name"),
        ({"colour": "red"}, "unknown parameter"),
    ],
)
async def test_audit_page_refuses_bad_parameters(
    console: Console, params: dict[str, str], message: str
) -> None:
    html = await _page(console.client, "/audit", 400, params=params)
    assert message in html


async def test_actions_show_up_in_the_audit_page(console: Console, seeded_store: Store) -> None:
    policy = ActorPolicy(user_header="X-User")
    async with serve(seeded_store, FakeExecutor(store=seeded_store), actor_policy=policy) as c:
        response = await _post(
            c.client,
            "/apps/orders/workflows/wf-003/actions/cancel",
            {"idempotency_key": "k-alice"},
            **{"X-User": "alice"},
        )
        assert response.status_code == 303
        html = await _page(c.client, "/audit", params={"actor": "user:alice"})
    assert _audit_rows(html) == [("workflow.cancel", "succeeded")]


async def test_navigation_links_every_section(console: Console) -> None:
    html = await _page(console.client, "/apps/orders/workflows")
    for href in ("bulk", "schedules", "versions"):
        assert f'href="/apps/orders/{href}" data-testid="tab-{href}"' in html
    assert 'href="/audit?app=orders" data-testid="tab-audit"' in html
    assert 'href="/audit" data-testid="audit-link"' in html


# -- schedules and versions ----------------------------------------------------------------------


SCHEDULES = [
    {
        "schedule_id": "s1",
        "schedule_name": "nightly",
        "workflow_name": "report",
        "workflow_class_name": None,
        "schedule": "0 2 * * *",
        "status": "ACTIVE",
        "last_fired_at": "2026-01-01T02:00:00Z",
        "automatic_backfill": False,
        "cron_timezone": "UTC",
        "queue_name": None,
    },
    {
        "schedule_id": "s2",
        "schedule_name": f"hourly {XSS}",
        "workflow_name": "tick",
        "workflow_class_name": None,
        "schedule": "0 * * * *",
        "status": "PAUSED",
        "last_fired_at": None,
        "automatic_backfill": True,
        "cron_timezone": None,
        "queue_name": "ticks",
    },
]


async def test_schedules_page_lists_and_acts(console: Console, executor: FakeExecutor) -> None:
    executor.schedules = SCHEDULES
    html = await _page(console.client, "/apps/orders/schedules")
    assert html.count('data-testid="schedule-row"') == 2
    assert XSS not in html
    assert 'href="/apps/orders/schedules/nightly/confirm?action=pause"' in html
    assert "/schedules/hourly%20%3Cscript%3Ealert%281%29%3C%2Fscript%3E/confirm?action=resume" in (
        html
    )

    confirm = await _page(console.client, "/apps/orders/schedules/nightly/confirm?action=trigger")
    assert "Trigger schedule" in confirm
    assert _form_action(confirm) == "/apps/orders/schedules/nightly/actions/trigger"
    key = _hidden(confirm, "idempotency_key")
    response = await _post(console.client, _form_action(confirm), {"idempotency_key": key})
    assert response.status_code == 303
    assert response.headers["location"] == f"/apps/orders/schedules?done={key}"
    [request] = executor.acts(RequestKind.TRIGGER_SCHEDULE)
    assert dict(request.params) == {"schedule_name": "nightly"}
    after = await _page(console.client, response.headers["location"])
    assert 'data-testid="flash" data-outcome="succeeded"' in after
    assert 'href="/apps/orders/workflows/sched-run-1"' in after


async def test_schedule_backfill_checks_its_times(console: Console, executor: FakeExecutor) -> None:
    response = await _post(
        console.client,
        "/apps/orders/schedules/nightly/actions/backfill",
        {"idempotency_key": "k-bf", "start": "yesterday", "end": "2026-01-02T00:00:00Z"},
    )
    assert response.status_code == 400
    assert "must be an ISO 8601 time" in response.text
    assert executor.requests == []


async def test_schedules_page_without_an_executor_says_so(console: Console) -> None:
    html = await _page(console.client, "/apps/billing/schedules")
    assert 'data-testid="live-unavailable"' in html
    assert "no executor of app billing is connected" in html


async def test_versions_page_marks_the_latest_and_makes_another_one_latest(
    console: Console, executor: FakeExecutor
) -> None:
    executor.versions = [
        {"version_id": "i2", "version_name": "v2", "version_timestamp": 2_000, "created_at": 2_000},
        {"version_id": "i1", "version_name": "v1", "version_timestamp": 1_000, "created_at": 1_000},
    ]
    html = await _page(console.client, "/apps/orders/versions")
    assert html.count('data-testid="version-row"') == 2
    assert html.count('data-testid="latest-version"') == 1
    assert re.search(r'data-version="v2">\s*<th scope="row" class="mono">v2 <span', html)
    [href] = re.findall(r'href="([^"]*)" data-testid="make-latest"', html)
    assert href == "/apps/orders/versions/confirm?version_name=v1"

    confirm = await _page(console.client, href)
    assert "Make version" in confirm
    assert _hidden(confirm, "version_name") == "v1"
    response = await _post(
        console.client,
        _form_action(confirm),
        {"idempotency_key": _hidden(confirm, "idempotency_key"), "version_name": "v1"},
    )
    assert response.status_code == 303
    [request] = executor.acts(RequestKind.SET_LATEST_VERSION)
    assert dict(request.params) == {"version_name": "v1"}
    [row] = await _audit(console.store, action="version.set_latest")
    assert row.subject == "v1"
