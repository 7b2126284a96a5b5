"""A small, real console world: executors, recoveries, workflows and steps of two apps, written
through the store's own projection functions, plus real ``LiveExecutors`` implementations, more
executors for a test, and the audit log read back.

Shared by the console's component tests and the browser test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from management.channel import NoLiveExecutor
from recovery.state import AppState, ExecutorRecord, ExecutorState, Recovery, RecoveryState
from store.audit import AuditFilter, list_audit
from store.database import Store
from store.models import AuditRow
from store.projection import project_app_state
from store.workflow_projection import replace_steps, upsert_workflows
from streams.exceptions import RequestTimeout
from streams.ids import AppName, CommandId, ConnId, ExecutorId, GatewayId, WorkflowId
from streams.records import ExecutorInfo, StepInfo, WorkflowStatus, WorkflowSteps

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20.000Z
OBSERVED_MS = T0 + 60_000  # 2023-11-14T22:14:20.000Z
ORDERS = AppName("orders")
BILLING = AppName("billing")
XSS = "<script>alert(1)</script>"
BULK = 30
"""Extra SUCCESS workflows named ``bulk``, for paging."""

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
"""The ``make_client`` fixture: ``async with make_client(live, **create_app_kwargs) as client``."""


def executor(executor_id: str, state: ExecutorState, **changes: object) -> ExecutorRecord:
    fields: dict[str, object] = {
        "info": ExecutorInfo(
            executor_id=ExecutorId(executor_id),
            application_version="v1",
            hostname="host-a",
            language="python",
            dbos_version="2.31.1",
            metadata={"region": "eu"},
        ),
        "gateway": GatewayId("gw-1"),
        "conn_id": ConnId(f"conn-{executor_id}"),
        "state": state,
        "connected_at_ms": T0,
        "last_seen_ms": T0 + 2_500,
        "updated_ms": T0,
        **changes,
    }
    return ExecutorRecord(**fields)  # type: ignore[arg-type]


APP_STATE = AppState(
    app=ORDERS,
    executors={
        ExecutorId("e1"): executor("e1", ExecutorState.CONNECTED),
        ExecutorId("e0"): executor(
            "e0",
            ExecutorState.DEAD,
            disconnected_at_ms=T0 + 1_000,
            close_code=1006,
            close_reason="abnormal closure",
        ),
    },
    recoveries={
        ExecutorId("e0"): Recovery(
            dead_executor_id=ExecutorId("e0"),
            application_version="v1",
            state=RecoveryState.IN_FLIGHT,
            declared_at_ms=T0 + 30_000,
            updated_ms=T0 + 31_000,
            attempt=1,
            target=ExecutorId("e1"),
            command_id=CommandId("orders/e0/1"),
            reason="e1 runs v1",
        )
    },
)


def workflow(
    workflow_id: str, status: str, created_offset_ms: int, **fields: object
) -> WorkflowStatus:
    base: dict[str, object] = {
        "app": ORDERS,
        "workflow_id": WorkflowId(workflow_id),
        "status": status,
        "observed_at_ms": OBSERVED_MS,
        "name": "checkout",
        "class_name": None,
        "application_version": "v1",
        "executor_id": "e1",
        "created_at_ms": T0 + created_offset_ms,
        "updated_at_ms": T0 + created_offset_ms + 500,
        "has_input": True,
        "has_output": True,
        **fields,
    }
    return WorkflowStatus(**base)  # type: ignore[arg-type]


WORKFLOWS: tuple[WorkflowStatus, ...] = (
    workflow(
        "wf-001",
        "SUCCESS",
        1_000,
        input='[["cart-1"], {}]',
        output='"paid"',
        completed_at_ms=T0 + 3_000,
    ),
    workflow(
        "wf-002",
        "ERROR",
        2_000,
        input=f'[["{XSS}"], {{}}]',
        error=f"ValueError: bad cart {XSS}\n" + "x" * 2_000,
        completed_at_ms=T0 + 2_900,
    ),
    workflow("wf-003", "PENDING", 3_000, name="ship", queue_name="shipping", has_output=False),
    workflow(
        "wf-004",
        "ENQUEUED",
        4_000,
        name="ship",
        queue_name="shipping",
        executor_id=None,
        has_output=False,
    ),
    workflow(
        "wf-005",
        "DELAYED",
        5_000,
        name="ship",
        queue_name="shipping",
        delay_until_epoch_ms=T0 + 3_600_000,
        has_output=False,
    ),
    workflow(
        "wf-006",
        "SUCCESS",
        1_500,
        name="charge",
        class_name="Payments",
        application_version="v2",
        executor_id="e2",
        parent_workflow_id="wf-001",
        output="42",
        completed_at_ms=T0 + 2_000,
    ),
    workflow("wf-007", "CANCELLED", 6_000, name="refund", queue_name="refunds"),
    workflow("dir/with?odd#id", "SUCCESS", 7_000, name="odd"),
    *(
        workflow(f"bulk-{i:03d}", "SUCCESS", 10_000 + i, name="bulk", application_version="v2")
        for i in range(BULK)
    ),
    replace(workflow("inv-1", "SUCCESS", 1_000, name="invoice"), app=BILLING),
)

STEPS: tuple[WorkflowSteps, ...] = (
    WorkflowSteps(
        app=ORDERS,
        workflow_id=WorkflowId("wf-001"),
        observed_at_ms=OBSERVED_MS + 1_000,
        steps=(
            StepInfo(
                function_id=1,
                function_name="reserve_stock",
                output='"reserved"',
                started_at_ms=T0 + 1_100,
                completed_at_ms=T0 + 1_350,
            ),
            StepInfo(
                function_id=2,
                function_name="charge",
                child_workflow_id="wf-006",
                started_at_ms=T0 + 1_400,
                completed_at_ms=T0 + 2_100,
            ),
            StepInfo(
                function_id=3,
                function_name="notify",
                output="null",
                started_at_ms=T0 + 2_200,
                completed_at_ms=T0 + 2_950,
            ),
        ),
    ),
    WorkflowSteps(
        app=ORDERS,
        workflow_id=WorkflowId("wf-002"),
        observed_at_ms=OBSERVED_MS + 2_000,
        steps=(
            StepInfo(
                function_id=1,
                function_name="validate",
                error=f"ValueError: {XSS}",
                started_at_ms=T0 + 2_100,
                completed_at_ms=T0 + 2_150,
            ),
        ),
    ),
)


async def seed(store: Store) -> None:
    """Write the whole world into a started store."""
    async with store.sessionmaker.begin() as session:
        await project_app_state(session, APP_STATE)
        await upsert_workflows(session, WORKFLOWS)
        await replace_steps(session, STEPS)


@dataclass
class FakeLive:
    """A connected executor of ``orders`` that knows some workflows (a real ``LiveExecutors``)."""

    workflows: dict[str, WorkflowStatus] = field(default_factory=dict)
    steps: dict[str, tuple[StepInfo, ...]] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    asked_private: list[bool] = field(default_factory=list)
    """Each call's ``payloads_private``. The answers carry payloads whatever it says (as an
    executor behind an older gateway might): the console must not show them."""

    async def get_workflow(
        self, app: AppName, workflow_id: WorkflowId, *, payloads_private: bool
    ) -> WorkflowStatus | None:
        self.calls.append(("get_workflow", app, workflow_id))
        self.asked_private.append(payloads_private)
        if app != ORDERS:
            raise NoLiveExecutor(f"no executor of {app}")
        return self.workflows.get(workflow_id)

    async def list_steps(
        self, app: AppName, workflow_id: WorkflowId, *, payloads_private: bool
    ) -> tuple[StepInfo, ...] | None:
        self.calls.append(("list_steps", app, workflow_id))
        self.asked_private.append(payloads_private)
        if app != ORDERS:
            raise NoLiveExecutor(f"no executor of {app}")
        return self.steps.get(workflow_id)


class OfflineLive:
    """No executor is connected."""

    async def get_workflow(
        self, app: AppName, workflow_id: WorkflowId, *, payloads_private: bool
    ) -> WorkflowStatus | None:
        raise NoLiveExecutor(f"no executor of {app} is connected")

    async def list_steps(
        self, app: AppName, workflow_id: WorkflowId, *, payloads_private: bool
    ) -> tuple[StepInfo, ...] | None:
        raise NoLiveExecutor(f"no executor of {app} is connected")


class TimingOutLive:
    """The executor's gateway reports a timeout (a ``RequestError``, not a ``LiveUnavailable``)."""

    async def get_workflow(
        self, app: AppName, workflow_id: WorkflowId, *, payloads_private: bool
    ) -> WorkflowStatus | None:
        raise RequestTimeout("no reply within 5000 ms")

    async def list_steps(
        self, app: AppName, workflow_id: WorkflowId, *, payloads_private: bool
    ) -> tuple[StepInfo, ...] | None:
        raise RequestTimeout("no reply within 5000 ms")


class HangingLive:
    """An executor that never answers: the console's own budget must cut it short."""

    def __init__(self) -> None:
        self.cancelled = 0

    async def get_workflow(
        self, app: AppName, workflow_id: WorkflowId, *, payloads_private: bool
    ) -> WorkflowStatus | None:
        await self._hang()
        return None

    async def list_steps(
        self, app: AppName, workflow_id: WorkflowId, *, payloads_private: bool
    ) -> tuple[StepInfo, ...] | None:
        await self._hang()
        return None

    async def _hang(self) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


async def add_executors(store: Store, *records: ExecutorRecord) -> None:
    """Project ``orders``' executors with ``records`` added (or replaced)."""
    state = AppState(
        app=ORDERS,
        executors={**APP_STATE.executors, **{r.info.executor_id: r for r in records}},
        recoveries=APP_STATE.recoveries,
    )
    async with store.sessionmaker.begin() as session:
        await project_app_state(session, state)


def on_version(record: ExecutorRecord, version: str) -> ExecutorRecord:
    """The executor on another application version."""
    return replace(record, info=replace(record.info, application_version=version))


async def audit_rows(store: Store, **filters: Any) -> list[AuditRow]:
    """The audit log's entries (at most 500), newest first, filtered like ``AuditFilter``."""
    async with store.sessionmaker.begin() as session:
        page = await list_audit(session, AuditFilter(**filters), limit=500, cursor=None)
    return page.entries
