"""A ``CommandChannel`` for console component tests: executors that answer actions in memory.

It plays the gateways and executors of the seeded world: each request is answered by the named
executor as DBOS would (cancel sets CANCELLED, resume ENQUEUED, fork makes a new workflow,
delete removes it), unless the test scripted that executor to have left (``not_connected``,
``disconnected``), to stay silent, or to fail. Every request and audit record is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.ids import GatewayId
from streams.records import (
    ExecutorReply,
    ExecutorRequest,
    OperatorAction,
    ReplyFailure,
    RequestKind,
    WorkflowDeleted,
)


@dataclass
class FakeChannel:
    """Executors behind a fake Kafka: ``statuses`` is their shared system database."""

    statuses: dict[str, str] = field(default_factory=dict)
    behaviour: dict[str, str] = field(default_factory=dict)
    """executor id -> ``gone`` (not connected), ``drop`` (disconnected mid-request), ``silent``,
    ``error``, ``unsupported`` (its client lacks the verb), ``metadata_only``; absent: answers."""
    requests: list[ExecutorRequest] = field(default_factory=list)
    audit: list[OperatorAction] = field(default_factory=list)
    deletions: list[WorkflowDeleted] = field(default_factory=list)
    forks: dict[str, tuple[str, int]] = field(default_factory=dict)
    """new workflow id -> (forked workflow id, start step)."""
    acted: list[tuple[str, str]] = field(default_factory=list)
    """(kind, workflow id) of every verb an executor carried out."""
    delay_s: float = 0.0

    async def send(self, request: ExecutorRequest, wait_s: float) -> ExecutorReply | None:
        self.requests.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        behaviour = self.behaviour.get(request.target)
        if behaviour == "silent":
            await asyncio.sleep(wait_s)
            return None
        if behaviour == "gone":
            return self._reply(request, failure=ReplyFailure.NOT_CONNECTED, error="not here")
        if behaviour == "drop":
            return self._reply(request, failure=ReplyFailure.DISCONNECTED, error="session closed")
        if behaviour == "unsupported":
            error = f"the Java client 1.1.0-m6 of executor {request.target} does not support it"
            return self._reply(request, failure=ReplyFailure.UNSUPPORTED, error=error)
        if behaviour == "metadata_only":
            error = "the executor runs in DBOS's metadata-only Conductor mode and refuses it"
            return self._reply(request, failure=ReplyFailure.METADATA_ONLY, error=error)
        if behaviour == "error":
            return self._reply(
                request, failure=ReplyFailure.EXECUTOR_ERROR, error="Traceback: <b>boom</b>"
            )
        return self._reply(request, result=self._act(request))

    async def publish_audit(self, record: OperatorAction) -> None:
        self.audit.append(record)

    async def publish_deletions(self, records: Sequence[WorkflowDeleted]) -> None:
        self.deletions.extend(records)

    def _act(self, request: ExecutorRequest) -> Any:
        ids = [str(i) for i in request.params.get("workflow_ids") or [request.workflow_id]]
        match request.kind:
            case RequestKind.CANCEL:
                return self._set(request, ids, "CANCELLED")
            case RequestKind.RESUME:
                return self._set(request, ids, "ENQUEUED")
            case RequestKind.DELETE:
                for workflow_id in ids:
                    self.acted.append((request.kind.value, workflow_id))
                    self.statuses.pop(workflow_id, None)
                return {"workflow_ids": ids}
            case RequestKind.FORK:
                new_id = str(request.params["new_workflow_id"])
                self.acted.append((request.kind.value, request.workflow_id))
                self.forks[new_id] = (request.workflow_id, int(request.params["start_step"]))
                self.statuses[new_id] = "ENQUEUED"
                return {"new_workflow_id": new_id}
            case RequestKind.REWIND:
                self.acted.append((request.kind.value, request.workflow_id))
                self.statuses[request.workflow_id] = "ENQUEUED"
                return {}
            case RequestKind.GET_WORKFLOW:
                return None
            case RequestKind.LIST_SCHEDULES:
                return {"schedules": [{"schedule_name": "nightly", "status": "ACTIVE"}]}
            case RequestKind.LIST_VERSIONS:
                return {"versions": [{"version_name": "v1"}]}
            case RequestKind.GET_EVENTS:
                return {"events": [{"key": "progress", "value": '"50%"'}]}
            case _:
                self.acted.append((request.kind.value, request.workflow_id))
                return {}

    def _set(self, request: ExecutorRequest, ids: list[str], status: str) -> dict[str, Any]:
        for workflow_id in ids:
            self.acted.append((request.kind.value, workflow_id))
            self.statuses[workflow_id] = status
        return {"workflow_ids": ids}

    @staticmethod
    def _reply(
        request: ExecutorRequest,
        *,
        result: Any = None,
        failure: ReplyFailure | None = None,
        error: str | None = None,
    ) -> ExecutorReply:
        return ExecutorReply(
            request_id=request.request_id,
            app=request.app,
            executor_id=request.target,
            gateway=GatewayId("gw-1"),
            ok=failure is None,
            ts_ms=request.issued_at_ms,
            error=error,
            failure=failure,
            result=result,
        )
