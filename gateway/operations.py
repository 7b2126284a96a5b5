"""What operators do through the gateway: management ``ExecutorRequest``s carried out on this
pod's executors and answered with an ``ExecutorReply``.

The shell of ``gateway.management`` (which builds the DBOS frames and reads the replies): ask the
executor with the request's own timeout and say how it went. Every reply that is not ok carries a
``ReplyFailure``, so the console knows whether it may retry on another executor.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from gateway.connection import Connection
from gateway.management import READ_ONLY_KINDS, failure_of, management_call, read_result
from gateway.support import missing_verb, unsupported_reply
from runtime.clock import wall_ms
from streams.exceptions import RecordError, RequestError, VerbUnsupported
from streams.ids import GatewayId
from streams.records import ExecutorReply, ExecutorRequest, ReplyFailure, StepInfo, WorkflowStatus

logger = logging.getLogger(__name__)


def timeout_s(request: ExecutorRequest) -> float:
    """How long the executor has to answer: the console's own deadline for the request."""
    return max(0.1, request.timeout_ms / 1000)


class RequestAnswerer(Protocol):
    """Answers console requests of some kinds (the gateway picks one by ``RequestKind``)."""

    async def answer(self, conn: Connection, request: ExecutorRequest) -> ExecutorReply:
        """Ask the executor; executor trouble becomes ``ok=False`` with its failure."""
        ...

    def failed_answer(
        self, request: ExecutorRequest, reason: str, failure: ReplyFailure
    ) -> ExecutorReply:
        """The answer to a request this pod could not carry out."""
        ...


class WorkflowOperator:
    """Carries out management requests (cancel, fork, schedules, export...) on executors."""

    def __init__(self, gateway_id: GatewayId) -> None:
        self._gateway_id = gateway_id

    async def answer(self, conn: Connection, request: ExecutorRequest) -> ExecutorReply:
        """Carry out one management request.

        Bad params fail with ``gateway_error`` before the executor is asked, a verb its client is
        known to lack with ``unsupported`` (``gateway.clients``); a closed session with
        ``disconnected``, no answer in time with ``timeout``, an "Unknown message type" answer
        with ``unsupported``, a metadata-only refusal with ``metadata_only``, another executor
        error with ``executor_error`` (its text bounded in ``error``).
        """
        try:
            call = management_call(request.kind, request.workflow_id, request.params)
        except RecordError as exc:
            logger.warning(
                "refused %s request %s: %s",
                request.kind.value,
                request.request_id,
                exc,
                extra=_context(request),
            )
            return self.failed_answer(request, str(exc), ReplyFailure.GATEWAY_ERROR)
        missing = missing_verb(conn.info, call.request.type)
        if missing is not None:
            return self.failed_answer(request, missing, ReplyFailure.UNSUPPORTED)
        if request.kind not in READ_ONLY_KINDS:
            logger.info(
                "asking %s to %s (request %s)",
                request.target,
                request.kind.value,
                request.request_id,
                extra=_context(request),
            )
        try:
            reply = await conn.request(call.request, timeout_s(request))
            result = read_result(call, reply)
        except VerbUnsupported as exc:
            reason = unsupported_reply(conn.info, call.request.type)
            return self.failed_answer(request, reason, failure_of(exc))
        except RequestError as exc:
            return self.failed_answer(request, str(exc), failure_of(exc))
        return reply_to(request, self._gateway_id, ok=True, result=result)

    def failed_answer(
        self, request: ExecutorRequest, reason: str, failure: ReplyFailure
    ) -> ExecutorReply:
        """The answer to a request this pod could not carry out."""
        return reply_to(request, self._gateway_id, ok=False, error=reason, failure=failure)


def reply_to(
    request: ExecutorRequest,
    gateway_id: GatewayId,
    *,
    ok: bool,
    result: Any = None,
    error: str | None = None,
    failure: ReplyFailure | None = None,
    workflow: WorkflowStatus | None = None,
    steps: tuple[StepInfo, ...] | None = None,
) -> ExecutorReply:
    """The reply to a console request, from this pod (every answerer builds its replies here)."""
    return ExecutorReply(
        request_id=request.request_id,
        app=request.app,
        executor_id=request.target,
        gateway=gateway_id,
        ok=ok,
        ts_ms=wall_ms(),
        error=error,
        failure=failure,
        result=result,
        workflow=workflow,
        steps=steps,
    )


def _context(request: ExecutorRequest) -> dict[str, str]:
    return {
        "request_id": request.request_id,
        "app": request.app,
        "executor_id": request.target,
        "workflow_id": request.workflow_id,
    }
