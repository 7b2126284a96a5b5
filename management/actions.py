"""Operators' actions: carried out by a live executor of the app, retried elsewhere when the target
vanished, done once per idempotency key, and audited.

Owns the path of one action (see docs/management-design.md): choose a connected executor (of the
right application version), send an ``ExecutorRequest`` through the ``CommandChannel``, wait for
the reply, retry on another executor when the reply says the target left (``not_connected``,
``disconnected``), its DBOS client lacks the verb (``unsupported``: 501 when no executor has it)
or no reply came and the target is gone; then one ``OperatorAction`` on the audit
topic and in the store. What an action *is* (its request kind, parameters, version rule) is built by
``management.operations``; how it ends is ``management.outcomes``; what a repeated key answers is
``management.idempotency``. Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import replace
from typing import Any

from management.audit_outbox import AuditOutbox
from management.channel import CommandChannel, LiveUnavailable
from management.idempotency import check_idempotency_key, derived_workflow_id, replayed
from management.operations import PAYLOAD_KINDS, Operation
from management.outcomes import ActionFailed, ActionResult, Execution, FailureReason
from management.targets import Target, connected_executors
from runtime.clock import wall_ms
from store.app_settings import payloads_private
from store.audit import find_action, record_audit
from store.database import Store
from store.workflow_queries import get_workflow
from streams.bounds import bound_text
from streams.ids import AppName, RequestId, WorkflowId
from streams.records import (
    ActionOutcome,
    ExecutorReply,
    ExecutorRequest,
    OperatorAction,
    ReplyFailure,
    RequestKind,
    WorkflowDeleted,
)

logger = logging.getLogger(__name__)

DEFAULT_ACTION_TIMEOUT_S = 10.0
"""How long one attempt waits for the executor (the gateway gives the executor as long)."""
MAX_ATTEMPTS = 3
"""Attempts of one action, each on a different executor."""
REPLY_GRACE_S = 1.0
"""How much longer than the executor's timeout the console waits for the gateway's word."""


class Actions:
    """Carries out and audits operators' actions.

    Args:
        store: a started store (executors to choose from, the audit log).
        channel: the way to executors; None when the console runs without Kafka (every action is
            then refused with a clear error).
        timeout_s: how long one attempt waits for the executor.
    """

    def __init__(
        self,
        store: Store,
        channel: CommandChannel | None,
        *,
        timeout_s: float = DEFAULT_ACTION_TIMEOUT_S,
    ) -> None:
        self._store = store
        self._channel = channel
        self._timeout_s = timeout_s
        self._inflight: dict[tuple[str, str], asyncio.Future[ActionResult]] = {}
        self.outbox = None if channel is None else AuditOutbox(store, channel)
        """Publishes audit rows; None without a broker (they wait in the store)."""

    async def run(
        self,
        app: AppName,
        operation: Operation,
        *,
        actor: str,
        idempotency_key: str | None = None,
    ) -> ActionResult:
        """Carry out one action and audit it; the same key on the same app acts once.

        Raises:
            ActionFailed: it did not succeed (``record`` holds the audited failure), or the key was
                used before for another action or target (``key_reused``, not audited again).
        """
        action_id = check_idempotency_key(idempotency_key or uuid.uuid4().hex)
        slot = (app, action_id)
        earlier = self._inflight.get(slot)
        if earlier is not None:
            # The same key while the first request is still running: its outcome, not a second act.
            first = await asyncio.shield(earlier)
            return replayed(first.record, operation)
        future: asyncio.Future[ActionResult] = asyncio.get_running_loop().create_future()
        self._inflight[slot] = future
        try:
            result = await self._run_once(app, operation, actor, action_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a failure nobody else awaited is not "unhandled"
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[slot]

    async def _run_once(
        self, app: AppName, operation: Operation, actor: str, action_id: str
    ) -> ActionResult:
        async with self._store.sessionmaker.begin() as session:
            stored = await find_action(session, app, action_id)
        if stored is not None:
            return replayed(stored, operation)
        operation = self._with_fixed_ids(app, operation, action_id)
        requested_at = wall_ms()
        execution = await self.execute(app, operation, request_base=action_id)
        record = OperatorAction(
            action_id=action_id,
            app=app,
            actor=actor,
            action=operation.action,
            target=operation.target,
            params=dict(operation.audited_params or operation.params),
            outcome=_outcome(execution),
            requested_at_ms=requested_at,
            finished_at_ms=wall_ms(),
            error=bound_text(execution.error),
            result=_audited_result(execution),
            executor_id=execution.executor_id,
        )
        await self.audit(record)
        logger.info(
            "%s %s on %s by %s: %s",
            operation.action,
            operation.target,
            app,
            actor,
            record.outcome.value,
            extra={"app": app, "action_id": action_id, "actor": actor},
        )
        if not execution.ok:
            assert execution.reason is not None
            raise ActionFailed(
                execution.error or "the action failed", reason=execution.reason, record=record
            )
        return ActionResult(record=record, replayed=False, output=execution.result)

    @staticmethod
    def _with_fixed_ids(app: AppName, operation: Operation, action_id: str) -> Operation:
        if operation.kind is not RequestKind.FORK or operation.params.get("new_workflow_id"):
            return operation
        new_id = derived_workflow_id(app, action_id)
        audited = {**(operation.audited_params or operation.params), "new_workflow_id": new_id}
        return replace(
            operation,
            params={**operation.params, "new_workflow_id": new_id},
            audited_params=audited,
        )

    async def audit(self, record: OperatorAction) -> None:
        """Write an action's audit record to the store, then to the audit topic (the replayable
        log) through the outbox, which retries later if the broker is down."""
        async with self._store.sessionmaker.begin() as session:
            await record_audit(session, [record], published=False)
        if self.outbox is not None:
            await self.outbox.publish_pending()

    async def query(
        self, app: AppName, kind: RequestKind, workflow_id: str = "", **params: Any
    ) -> Any:
        """Ask a live executor something (not audited): schedules, versions, a workflow's events.

        Raises:
            ActionFailed: no executor answered usefully.
        """
        operation = Operation(
            action=kind.value, kind=kind, target=workflow_id, workflow_id=workflow_id, params=params
        )
        execution = await self.execute(app, operation, request_base=uuid.uuid4().hex)
        if not execution.ok:
            assert execution.reason is not None
            raise ActionFailed(execution.error or "the query failed", reason=execution.reason)
        return execution.result

    async def execute(self, app: AppName, operation: Operation, *, request_base: str) -> Execution:
        """Carry out an operation (not audited): up to ``MAX_ATTEMPTS`` executors, in turn.

        Args:
            app: the app.
            operation: what to do.
            request_base: request ids are ``{request_base}#{attempt}``; a fork retried after its
                executor vanished first checks whether the new workflow already exists.
        """
        if operation.kind in PAYLOAD_KINDS and await self._private(app):
            return Execution(
                ok=False,
                reason=FailureReason.PAYLOAD_PRIVACY,
                error=(
                    f"{PAYLOAD_KINDS[operation.kind]} carries "
                    f"workflow payloads, and payload privacy is on for app {app}: Baton never "
                    f"asks for them (`baton apps privacy {app} off` allows it)"
                ),
            )
        if self._channel is None:
            return Execution(
                ok=False,
                reason=FailureReason.UNAVAILABLE,
                error="actions need the Kafka broker: this console runs without one (--kafka)",
            )
        tried: set[str] = set()
        left: list[str] = []
        unsupported: list[str] = []
        for attempt in range(MAX_ATTEMPTS):
            try:
                target = await self._choose(app, operation.version, tried)
            except ActionFailed as exc:
                if not tried:
                    return Execution(ok=False, error=str(exc), reason=exc.reason)
                break
            tried.add(target.executor_id)
            request_id = RequestId(f"{request_base}#{attempt}")
            if attempt > 0 and operation.kind is RequestKind.FORK:
                done = await self._fork_already_done(app, operation, target, request_id)
                if done is not None:
                    return done
            try:
                reply = await self._send(app, operation, target, request_id)
            except LiveUnavailable as exc:
                return Execution(ok=False, error=str(exc), reason=FailureReason.UNAVAILABLE)
            if reply is not None and reply.ok:
                if operation.kind is RequestKind.DELETE:
                    await self._forget(app, operation)
                return Execution(
                    ok=True, result=reply.result, executor_id=target.executor_id, attempts=attempt
                )
            if reply is None:
                if await self._connected(app, target.executor_id):
                    return Execution(
                        ok=False,
                        reason=FailureReason.TIMEOUT,
                        executor_id=target.executor_id,
                        error=(
                            f"executor {target.executor_id} did not answer within "
                            f"{self._timeout_s:g} s; the action may still take effect: check the "
                            "workflow's status before trying again"
                        ),
                    )
                left.append(target.executor_id)
                continue
            if reply.failure in (ReplyFailure.NOT_CONNECTED, ReplyFailure.DISCONNECTED):
                left.append(target.executor_id)
                continue
            if reply.failure is ReplyFailure.UNSUPPORTED:
                unsupported.append(reply.error or f"executor {target.executor_id}")
                continue
            return Execution(
                ok=False,
                reason=_REPLY_REASONS.get(reply.failure, FailureReason.EXECUTOR_ERROR),
                error=reply.error or "the executor could not carry out the request",
                executor_id=target.executor_id,
            )
        if unsupported:
            return Execution(
                ok=False,
                reason=FailureReason.UNSUPPORTED,
                error="; ".join(unsupported),
            )
        return Execution(
            ok=False,
            reason=FailureReason.VANISHED,
            error=(
                f"executor(s) {', '.join(left)} of app {app} left before answering and no other "
                "executor could carry out the action; try again once one is connected"
            ),
        )

    async def _forget(self, app: AppName, operation: Operation) -> None:
        """After a delete: the store forgets the workflows, through the workflow events topic."""
        assert self._channel is not None
        ids = operation.params.get("workflow_ids") or [operation.workflow_id]
        deleted_at = wall_ms()
        records = [
            WorkflowDeleted(
                app=app,
                workflow_id=WorkflowId(str(workflow_id)),
                with_children=bool(operation.params.get("delete_children")),
                deleted_at_ms=deleted_at,
            )
            for workflow_id in ids
        ]
        try:
            await self._channel.publish_deletions(records)
        except LiveUnavailable as exc:
            logger.warning("deleted workflows stay in the store's lists: %s", exc)

    async def _send(
        self,
        app: AppName,
        operation: Operation,
        target: Target,
        request_id: RequestId,
        *,
        payloads_private: bool = False,
    ) -> ExecutorReply | None:
        assert self._channel is not None
        request = ExecutorRequest(
            request_id=request_id,
            app=app,
            target=target.executor_id,
            target_gateway=target.gateway,
            kind=operation.kind,
            workflow_id=WorkflowId(operation.workflow_id),
            issued_at_ms=wall_ms(),
            timeout_ms=int(self._timeout_s * 1000),
            params=dict(operation.params),
            payloads_private=payloads_private,
        )
        return await self._channel.send(request, self._timeout_s + REPLY_GRACE_S)

    async def _fork_already_done(
        self, app: AppName, operation: Operation, target: Target, request_id: RequestId
    ) -> Execution | None:
        """After a fork's executor vanished mid-request: did the fork happen anyway?

        Only the new workflow's existence matters: the probe asks DBOS for no input and no
        output (``load_input``/``load_output`` false), whatever the app's payload privacy."""
        new_id = str(operation.params["new_workflow_id"])
        probe = Operation(
            action="probe",
            kind=RequestKind.GET_WORKFLOW,
            target=new_id,
            workflow_id=new_id,
        )
        try:
            reply = await self._send(
                app, probe, target, RequestId(f"{request_id}.probe"), payloads_private=True
            )
        except LiveUnavailable:
            return None
        if reply is not None and reply.ok and reply.workflow is not None:
            return Execution(
                ok=True, result={"new_workflow_id": new_id}, executor_id=target.executor_id
            )
        return None

    async def _choose(self, app: AppName, version: str | None, tried: set[str]) -> Target:
        targets = await connected_executors(self._store, app)
        if not targets:
            raise ActionFailed(
                f"no executor of app {app} is connected: start one (it connects to this Baton's "
                "gateway with an API key of the app), then try again",
                reason=FailureReason.NO_EXECUTOR,
            )
        suitable = [t for t in targets if version is None or t.version == version]
        if not suitable:
            versions = ", ".join(sorted({t.version for t in targets}))
            raise ActionFailed(
                f"no executor of application version {version} of app {app} is connected "
                f"(connected versions: {versions}); start one of version {version}, or fork the "
                "workflow to a connected version",
                reason=FailureReason.NO_SUITABLE_EXECUTOR,
            )
        untried = [t for t in suitable if t.executor_id not in tried]
        if not untried:
            raise ActionFailed("every suitable executor was tried", reason=FailureReason.VANISHED)
        return untried[0]

    async def _private(self, app: AppName) -> bool:
        async with self._store.sessionmaker() as session:
            return await payloads_private(session, app)

    async def _connected(self, app: AppName, executor_id: str) -> bool:
        return any(
            t.executor_id == executor_id for t in await connected_executors(self._store, app)
        )

    async def version_of(self, app: AppName, workflow_id: str) -> str | None:
        """The application version a workflow runs on, as the store knows it (None: unknown)."""
        async with self._store.sessionmaker.begin() as session:
            row = await get_workflow(session, app, workflow_id)
        return None if row is None else row.application_version


_REPLY_REASONS: dict[ReplyFailure | None, FailureReason] = {
    ReplyFailure.TIMEOUT: FailureReason.TIMEOUT,
    ReplyFailure.METADATA_ONLY: FailureReason.METADATA_ONLY,
}
"""The reason of an action whose executor answered with a failure not retried elsewhere (any
other: ``executor_error``)."""


def _outcome(execution: Execution) -> ActionOutcome:
    if execution.ok:
        return ActionOutcome.SUCCEEDED
    if execution.executor_id is None and execution.reason is not FailureReason.VANISHED:
        return ActionOutcome.REJECTED
    return ActionOutcome.FAILED


def _audited_result(execution: Execution) -> dict[str, Any] | None:
    if not execution.ok:
        assert execution.reason is not None
        return {"reason": execution.reason.value}
    if isinstance(execution.result, dict):
        # An export's blob stays out of the audit log: its size says enough.
        return {
            key: (f"[{len(value)} characters]" if key == "serialized_workflow" else value)
            for key, value in execution.result.items()
        }
    return None
