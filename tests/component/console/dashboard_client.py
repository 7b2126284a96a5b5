"""The dashboard under test: the console over the seeded store with a fake executor ``e1`` of
``orders`` behind a real ``CommandChannel``, and the reading of its HTML pages and posting of its
forms. Shared by the dashboard's component tests and the browser test."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from console.app import create_app
from management.channel import CommandChannel
from store.database import Store
from store.workflow_projection import delete_workflows, upsert_workflows
from streams.ids import GatewayId
from streams.records import (
    ExecutorReply,
    ExecutorRequest,
    OperatorAction,
    ReplyFailure,
    RequestKind,
    WorkflowDeleted,
)
from tests.component.console.seed import ORDERS, WORKFLOWS
from tests.console_access import TEST_ACCESS, bearer

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
            case RequestKind.SET_LATEST_VERSION | RequestKind.REWIND:
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
    store: Store, channel: CommandChannel | None, *, authorize: bool = True, **kwargs: Any
) -> AsyncIterator[Console]:
    """The console over ``store`` through httpx, its lifespan running; every request carries the
    admin token ``tester`` unless ``authorize`` is False."""
    kwargs.setdefault("access", TEST_ACCESS)
    app = create_app(store, channel=channel, **kwargs)
    headers = await bearer(store) if authorize else {}
    async with LifespanManager(app) as running:
        transport = httpx.ASGITransport(app=running.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://console", headers=headers
        ) as client:
            yield Console(client=client, app=app, store=store)


async def page(client: httpx.AsyncClient, path: str, status: int = 200, **kw: Any) -> str:
    response = await client.get(path, headers={**HTML, **kw.pop("headers", {})}, **kw)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    return response.text


def hidden(html: str, name: str) -> str:
    [value] = re.findall(rf'<input type="hidden" name="{name}" value="([^"]*)">', html)
    return str(value)


def form_action(html: str) -> str:
    [action] = re.findall(r'<form method="post" action="([^"]*)"', html)
    return str(action)


async def post(
    client: httpx.AsyncClient, path: str, data: Mapping[str, Any], **headers: str
) -> httpx.Response:
    return await client.post(path, data=dict(data), headers={**SAME_ORIGIN, **headers})
