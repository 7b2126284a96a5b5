"""The console's seam to live executors: ask one connected executor of an app, through a gateway.

The console never talks to executors itself. An implementation sends an ``ExecutorRequest`` record
to the commands topic and waits for the ``ExecutorReply`` (``management.kafka_channel``); tests use
a real class that implements this protocol. Callers fall back to the store when a
``LiveUnavailable`` is raised.

* LiveUnavailable (console-side, subclass of ``RequestError``)
    * NoLiveExecutor   -- no executor of the app is connected right now
    * (RequestTimeout, SessionClosed and ExecutorFailed come from ``streams.exceptions``)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from streams.exceptions import RequestError
from streams.ids import AppName, WorkflowId
from streams.records import (
    ExecutorReply,
    ExecutorRequest,
    OperatorAction,
    StepInfo,
    WorkflowDeleted,
    WorkflowStatus,
)


class LiveUnavailable(RequestError):
    """The live answer could not be had; the caller answers from the store instead."""


class NoLiveExecutor(LiveUnavailable):
    """No executor of the app is connected."""


class LiveExecutors(Protocol):
    """Questions the console may ask a live executor of an app."""

    async def get_workflow(
        self, app: AppName, workflow_id: WorkflowId, *, payloads_private: bool
    ) -> WorkflowStatus | None:
        """DBOS ``get_workflow``, inputs and outputs loaded unless ``payloads_private`` (payload
        privacy is on for the app); ``None`` when the executor's system database does not know
        the workflow.

        Raises:
            NoLiveExecutor: no executor of ``app`` is connected.
            RequestError: the executor did not answer usefully (timeout, disconnect, its error).
        """
        ...

    async def list_steps(
        self, app: AppName, workflow_id: WorkflowId, *, payloads_private: bool
    ) -> tuple[StepInfo, ...] | None:
        """DBOS ``list_steps`` (at most ``MAX_STEPS``), outputs loaded unless
        ``payloads_private``; ``None`` when unknown.

        Raises:
            NoLiveExecutor: no executor of ``app`` is connected.
            RequestError: the executor did not answer usefully (timeout, disconnect, its error).
        """
        ...


class CommandChannel(Protocol):
    """How the console's actions reach executors, and where their audit records go."""

    async def send(self, request: ExecutorRequest, wait_s: float) -> ExecutorReply | None:
        """Send one request to the gateways and wait for its reply.

        Returns:
            The reply, or None when none came within ``wait_s``.

        Raises:
            LiveUnavailable: the broker is unreachable (nothing was sent).
        """
        ...

    async def publish_audit(self, record: OperatorAction) -> None:
        """Append an operator action to the audit topic (the replayable log).

        Raises:
            LiveUnavailable: the broker is unreachable.
        """
        ...

    async def publish_deletions(self, records: Sequence[WorkflowDeleted]) -> None:
        """Tell the workflow events topic that workflows were deleted (the store forgets them).

        Raises:
            LiveUnavailable: the broker is unreachable.
        """
        ...
