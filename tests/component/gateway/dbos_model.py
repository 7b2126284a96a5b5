"""A DBOS executor model for the gateway's capture and lookup tests.

``DbosModelExecutor`` answers ``list_workflows``, ``get_workflow`` and ``list_steps`` over an
in-memory table with the semantics of ``dbos/_sys_db.py`` ``list_workflows`` (dbos 2.31.1):
``created_at >= start_time``, ``completed_at >= completed_after``, ``completed_at <=
completed_before``, status and id filters, ascending by ``created_at``, then ``OFFSET`` and
``LIMIT``. Its replies are built with DBOS's own dataclasses.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from dbos._conductor import protocol as p
from dbos._sys_db import StepInfo as DbosStepInfo
from dbos._sys_db import WorkflowStatus as DbosWorkflowStatus

from tests.component.gateway.fakes import FakeExecutor


@dataclass
class StoredWorkflow:
    """One row of the model's ``workflow_status`` table, with its steps."""

    workflow_id: str
    status: str
    created_at: int
    updated_at: int
    completed_at: int | None = None
    input: str | None = None
    output: str | None = None
    error: str | None = None
    queue_name: str | None = None
    steps: list[DbosStepInfo] = field(default_factory=list)


def dbos_parse(text: str) -> int:
    """How DBOS reads ``start_time``/``completed_after``/``completed_before`` (``_sys_db.py``)."""
    return int(datetime.datetime.fromisoformat(text).timestamp() * 1000)


def step(function_id: int, name: str, output: object = None) -> DbosStepInfo:
    """A DBOS ``StepInfo``."""
    return {
        "function_id": function_id,
        "function_name": name,
        "output": output,
        "error": None,
        "child_workflow_id": None,
        "started_at_epoch_ms": 1_000 + function_id,
        "completed_at_epoch_ms": 2_000 + function_id,
    }


class DbosModelExecutor(FakeExecutor):
    """``FakeExecutor`` plus DBOS's observability verbs over an in-memory table."""

    def __init__(self, url: str, executor_id: str, workflows: list[StoredWorkflow]) -> None:
        super().__init__(url, executor_id)
        self.workflows = workflows
        self.list_error: str | None = None
        """When set, ``list_workflows`` answers with this ``error_message`` (DBOS: a traceback)."""

    def cost(self) -> int:
        """Observability requests received so far (what a poll's ``requests`` counts)."""
        return len(self.requests("list_workflows")) + len(self.requests("list_steps"))

    def find(self, workflow_id: str) -> StoredWorkflow:
        return next(w for w in self.workflows if w.workflow_id == workflow_id)

    async def _answer(self, message: dict[str, Any]) -> None:
        match message["type"]:
            case "list_workflows":
                await self.ws.send(self._list(message).to_json())
            case "get_workflow":
                await self.ws.send(self._get(message).to_json())
            case "list_steps":
                await self.ws.send(self._steps(message).to_json())
            case _:
                await super()._answer(message)

    def _list(self, message: dict[str, Any]) -> Any:
        body = message["body"]
        if self.list_error is not None:
            return p.ListWorkflowsResponse(
                type=p.MessageType.LIST_WORKFLOWS,
                request_id=message["request_id"],
                output=[],
                error_message=self.list_error,
            )
        rows = sorted(self.workflows, key=lambda w: w.created_at)  # stable: ties keep insertion
        if body.get("start_time"):
            start = dbos_parse(body["start_time"])
            rows = [w for w in rows if w.created_at >= start]
        if body.get("end_time"):
            end = dbos_parse(body["end_time"])  # inclusive, as in DBOS
            rows = [w for w in rows if w.created_at <= end]
        if body.get("sort_desc"):
            rows.reverse()
        if body.get("completed_after"):
            after = dbos_parse(body["completed_after"])
            rows = [w for w in rows if w.completed_at is not None and w.completed_at >= after]
        if body.get("completed_before"):
            before = dbos_parse(body["completed_before"])  # inclusive, as in DBOS
            rows = [w for w in rows if w.completed_at is not None and w.completed_at <= before]
        if body.get("completed_before"):
            before = dbos_parse(body["completed_before"])  # inclusive, as in DBOS
            rows = [w for w in rows if w.completed_at is not None and w.completed_at <= before]
        if body.get("status"):
            statuses = body["status"]
            statuses = [statuses] if isinstance(statuses, str) else statuses
            rows = [w for w in rows if w.status in statuses]
        if body.get("workflow_uuids"):
            rows = [w for w in rows if w.workflow_id in body["workflow_uuids"]]
        if body.get("offset"):
            rows = rows[body["offset"] :]
        if body.get("limit"):
            rows = rows[: body["limit"]]
        load_input, load_output = body.get("load_input", True), body.get("load_output", True)
        return p.ListWorkflowsResponse(
            type=p.MessageType.LIST_WORKFLOWS,
            request_id=message["request_id"],
            output=[self._output(w, load_input, load_output) for w in rows],
        )

    def _get(self, message: dict[str, Any]) -> Any:
        found = [w for w in self.workflows if w.workflow_id == message["workflow_id"]]
        return p.GetWorkflowResponse(
            type=p.MessageType.GET_WORKFLOW,
            request_id=message["request_id"],
            output=self._output(found[0], True, True) if found else None,
        )

    def _steps(self, message: dict[str, Any]) -> Any:
        found = [w for w in self.workflows if w.workflow_id == message["workflow_id"]]
        return p.ListStepsResponse(
            type=p.MessageType.LIST_STEPS,
            request_id=message["request_id"],
            output=[p.WorkflowSteps.from_step_info(s) for s in found[0].steps] if found else None,
        )

    def _output(self, row: StoredWorkflow, load_input: bool, load_output: bool) -> Any:
        info = DbosWorkflowStatus()
        values: dict[str, Any] = {
            "workflow_id": row.workflow_id,
            "status": row.status,
            "name": "checkout",
            "class_name": None,
            "config_name": None,
            "authenticated_user": None,
            "assumed_role": None,
            "authenticated_roles": None,
            "input": row.input if load_input else None,
            "output": row.output if load_output else None,
            "error": row.error if load_output else None,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "queue_name": row.queue_name,
            "executor_id": self.executor_id,
            "app_version": "v1",
            "workflow_timeout_ms": None,
            "workflow_deadline_epoch_ms": None,
            "deduplication_id": None,
            "priority": 0,
            "queue_partition_key": None,
            "forked_from": None,
            "was_forked_from": False,
            "parent_workflow_id": None,
            "dequeued_at": None,
            "delay_until_epoch_ms": None,
            "completed_at": row.completed_at,
            "attributes": None,
            "schedule_name": None,
            "application_name": None,
        }
        for name, value in values.items():
            setattr(info, name, value)
        return p.WorkflowsOutput.from_workflow_information(info)


def catalogue(base: int) -> list[StoredWorkflow]:
    """Five workflows, two pairs created in the same millisecond, three of them completed."""
    return [
        StoredWorkflow(
            workflow_id="wf-1",
            status="SUCCESS",
            created_at=base,
            updated_at=base + 100,
            completed_at=base + 100,
            input='{"args": [1]}',
            output='"paid"',
            steps=[step(0, "reserve", {"sku": 1}), step(1, "charge", 42)],
        ),
        StoredWorkflow(
            workflow_id="wf-2",
            status="ERROR",
            created_at=base,
            updated_at=base + 200,
            completed_at=base + 200,
            input='{"args": [2]}',
            error="card declined",
            steps=[step(0, "reserve")],
        ),
        StoredWorkflow(
            workflow_id="wf-3",
            status="PENDING",
            created_at=base + 10,
            updated_at=base + 10,
            input='{"args": [3]}',
        ),
        StoredWorkflow(
            workflow_id="wf-4",
            status="ENQUEUED",
            created_at=base + 20,
            updated_at=base + 20,
            input='{"args": [4]}',
            queue_name="orders-q",
        ),
        StoredWorkflow(
            workflow_id="wf-5",
            status="SUCCESS",
            created_at=base + 20,
            updated_at=base + 300,
            completed_at=base + 300,
            input='{"args": [5]}',
            output='"shipped"',
            steps=[step(0, "pack"), step(1, "ship"), step(2, "notify")],
        ),
    ]
