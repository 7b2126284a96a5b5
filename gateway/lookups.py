"""The console's live lookups: ``get_workflow`` and ``list_steps`` ``ExecutorRequest``s answered
from this pod's executors with an ``ExecutorReply``; what a lookup learned is also published to the
workflow events topic, so the store gets fresher. A request about an app with payload privacy
(``payloads_private``) asks the executor for no inputs, outputs or errors, and what the executor
sends anyway is dropped before anything is answered or published.

Also home of ``ask``, the one way the gateway puts a DBOS observability verb to an executor
(``gateway.polling`` runs its capture queries through it). The DBOS frames are in
``gateway.queries``; management kinds are answered by ``gateway.operations``.
"""

from __future__ import annotations

from gateway import replies
from gateway.connection import Connection
from gateway.kafka import KafkaSink
from gateway.management import failure_of
from gateway.operations import reply_to, timeout_s
from gateway.protocol import Reply, Request
from gateway.queries import get_workflow_request, list_steps_request, read_get_workflow, read_steps
from runtime.clock import wall_ms
from streams.exceptions import PublishError, RequestError
from streams.ids import GatewayId
from streams.records import ExecutorReply, ExecutorRequest, ReplyFailure, RequestKind, WorkflowSteps
from streams.topics import Topics


async def ask(conn: Connection, request: Request, timeout_s: float) -> Reply:
    """Put one observability request to the executor and wait for its reply.

    Raises:
        ExecutorFailed: the executor answered with an error (DBOS: a traceback).
        RequestTimeout: no reply within ``timeout_s``.
        SessionClosed: the session closed first.
    """
    reply = await conn.request(request, timeout_s)
    replies.check(request.type, reply)
    return reply


class WorkflowLookups:
    """Answers the console's ``get_workflow`` and ``list_steps`` requests (``RequestAnswerer``)."""

    def __init__(self, sink: KafkaSink, topics: Topics, gateway_id: GatewayId) -> None:
        self._sink = sink
        self._topics = topics
        self._gateway_id = gateway_id

    async def answer(self, conn: Connection, request: ExecutorRequest) -> ExecutorReply:
        """Answer a console request; executor trouble becomes ``ok=False`` with its reason and
        its ``ReplyFailure``."""
        try:
            match request.kind:
                case RequestKind.GET_WORKFLOW:
                    return await self._get_workflow(conn, request)
                case RequestKind.LIST_STEPS:
                    return await self._list_steps(conn, request)
                case _:  # a management kind: gateway.operations answers those
                    return self.failed_answer(
                        request,
                        f"{request.kind.value} is not an observation request",
                        ReplyFailure.GATEWAY_ERROR,
                    )
        except (RequestError, PublishError) as exc:
            return self.failed_answer(request, str(exc), failure_of(exc))

    async def _get_workflow(self, conn: Connection, request: ExecutorRequest) -> ExecutorReply:
        payloads = not request.payloads_private
        asked = get_workflow_request(request.workflow_id, payloads=payloads)
        reply = await ask(conn, asked, timeout_s(request))
        workflow = read_get_workflow(reply, request.app, wall_ms(), payloads=payloads)
        if workflow is not None:
            await self._sink.publish_batch(self._topics.workflow_events, [workflow])
        return reply_to(request, self._gateway_id, ok=True, workflow=workflow)

    async def _list_steps(self, conn: Connection, request: ExecutorRequest) -> ExecutorReply:
        payloads = not request.payloads_private
        asked = list_steps_request(request.workflow_id, payloads=payloads)
        reply = await ask(conn, asked, timeout_s(request))
        steps = read_steps(reply, payloads=payloads)
        if steps is not None:
            listing = WorkflowSteps(
                app=request.app,
                workflow_id=request.workflow_id,
                steps=steps,
                observed_at_ms=wall_ms(),
            )
            await self._sink.publish_batch(self._topics.workflow_events, [listing])
        return reply_to(request, self._gateway_id, ok=True, steps=steps)

    def failed_answer(
        self, request: ExecutorRequest, reason: str, failure: ReplyFailure
    ) -> ExecutorReply:
        """The answer to a request this pod could not ask."""
        return reply_to(request, self._gateway_id, ok=False, error=reason, failure=failure)
