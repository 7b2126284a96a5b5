"""One workflow's detail and steps: asked live of a connected executor first, else from the store.

Owns the fallback rule and the live call's time budget. A live answer is fresh (``stale_as_of_ms``
is None); a stored one says when the store last observed it, so the console can show it as stale
while the app's executors are offline. Must not import the gateway, Faust or Kafka: the live side
is the ``LiveExecutors`` seam.

Payload privacy (``store.app_settings``): for an app with it on, the live call asks for no
payloads, and whatever input, output or error comes back anyway (an older gateway, a store row
written before the switch) is dropped here; the views say the payloads are hidden.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TypeVar

from management.channel import LiveExecutors
from store.app_settings import PAYLOADS_HIDDEN, payloads_private
from store.database import Store
from store.models import StepRow
from store.workflow_queries import get_workflow, list_children, list_steps
from store.workflow_rows import status_from_row
from streams.exceptions import RequestError
from streams.ids import AppName, WorkflowId
from streams.records import StepInfo, WorkflowStatus

logger = logging.getLogger(__name__)

DEFAULT_LIVE_TIMEOUT_S = 3.0
"""How long a request waits for a live executor before answering from the store: an outer bound
over the live implementation's own timeout (``console_live_timeout_s``, 3 s by default)."""

CHILDREN_LIMIT = 100

T = TypeVar("T")


class Source(StrEnum):
    """Where an answer came from."""

    LIVE = "live"
    STORE = "store"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildRef:
    """A child workflow, as the store knows it."""

    workflow_id: str
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowView:
    """A workflow's full status with its children, and where it came from."""

    status: WorkflowStatus
    children: tuple[ChildRef, ...]
    source: Source
    stale_as_of_ms: int | None
    """None when live; else when the store last observed the workflow (epoch ms)."""
    payloads_hidden: str | None = None
    """Why ``status`` carries no input, output or error (``hidden_payloads``); None: it does."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepsView:
    """A workflow's steps, and where they came from."""

    steps: tuple[StepInfo, ...]
    source: Source
    stale_as_of_ms: int | None
    """None when live; else when the store last observed the steps (or the workflow, if no
    steps were captured)."""
    payloads_hidden: str | None = None
    """Why the steps carry no outputs or errors (``hidden_payloads``); None: they do."""


class WorkflowLookup:
    """Reads one workflow's detail and steps, live when possible.

    Args:
        store: a started store.
        live: the live seam, or None to always answer from the store.
        live_timeout_s: the budget of one live call; a slower executor is answered from the store.
    """

    def __init__(
        self,
        store: Store,
        live: LiveExecutors | None,
        *,
        live_timeout_s: float = DEFAULT_LIVE_TIMEOUT_S,
    ) -> None:
        self._store = store
        self._live = live
        self._live_timeout_s = live_timeout_s

    async def workflow(
        self, app: AppName, workflow_id: WorkflowId, *, withheld: bool = False
    ) -> WorkflowView | None:
        """The workflow's detail, or None when neither a live executor nor the store knows it;
        ``withheld``: without payloads, whatever the app's setting."""
        hidden = await self._hidden(app, withheld)
        private = hidden is not None
        status = None
        if self._live is not None:
            asked = self._live.get_workflow(app, workflow_id, payloads_private=private)
            status = await self._ask(asked, app, workflow_id)
        async with self._store.sessionmaker.begin() as session:
            children = tuple(
                ChildRef(workflow_id=row.workflow_id, status=row.status)
                for row in await list_children(session, app, workflow_id, limit=CHILDREN_LIMIT)
            )
            if status is not None:
                return WorkflowView(
                    status=_shown(status, private),
                    children=children,
                    source=Source.LIVE,
                    stale_as_of_ms=None,
                    payloads_hidden=hidden,
                )
            row = await get_workflow(session, app, workflow_id)
        if row is None:
            return None
        return WorkflowView(
            status=_shown(status_from_row(row), private),
            children=children,
            source=Source.STORE,
            stale_as_of_ms=row.observed_at_ms,
            payloads_hidden=hidden,
        )

    async def steps(
        self, app: AppName, workflow_id: WorkflowId, *, withheld: bool = False
    ) -> StepsView | None:
        """The workflow's steps, or None when neither a live executor nor the store knows it;
        ``withheld``: without payloads, whatever the app's setting."""
        hidden = await self._hidden(app, withheld)
        private = hidden is not None
        if self._live is not None:
            asked = self._live.list_steps(app, workflow_id, payloads_private=private)
            live = await self._ask(asked, app, workflow_id)
            if live is not None:
                return StepsView(
                    steps=_shown_steps(live, private),
                    source=Source.LIVE,
                    stale_as_of_ms=None,
                    payloads_hidden=hidden,
                )
        async with self._store.sessionmaker.begin() as session:
            rows = await list_steps(session, app, workflow_id)
            if rows:
                return StepsView(
                    steps=_shown_steps(tuple(_step(row) for row in rows), private),
                    source=Source.STORE,
                    stale_as_of_ms=max(row.observed_at_ms for row in rows),
                    payloads_hidden=hidden,
                )
            workflow = await get_workflow(session, app, workflow_id)
        if workflow is None:
            return None
        return StepsView(
            steps=(),
            source=Source.STORE,
            stale_as_of_ms=workflow.observed_at_ms,
            payloads_hidden=hidden,
        )

    async def _hidden(self, app: AppName, withheld: bool) -> str | None:
        async with self._store.sessionmaker() as session:
            return hidden_payloads(await payloads_private(session, app), withheld=withheld)

    async def _ask(self, call: Awaitable[T | None], app: str, workflow_id: str) -> T | None:
        """The live answer, or None when there is none (the caller then reads the store)."""
        try:
            async with asyncio.timeout(self._live_timeout_s):
                return await call
        except (RequestError, TimeoutError) as exc:
            # Expected whenever the app's executors are offline: the store answers instead.
            logger.debug(
                "live lookup of %s/%s unavailable (%s): answering from the store",
                app,
                workflow_id,
                type(exc).__name__,
            )
            return None


def _step(row: StepRow) -> StepInfo:
    return StepInfo(
        function_id=row.function_id,
        function_name=row.function_name,
        output=row.output,
        error=row.error,
        child_workflow_id=row.child_workflow_id,
        started_at_ms=row.started_at_ms,
        completed_at_ms=row.completed_at_ms,
    )


WITHHELD_FROM_VIEWERS = "hidden (viewers are shown no payloads in this console)"


def hidden_payloads(private: bool, *, withheld: bool) -> str | None:
    """Why payloads are not shown: the app's payload privacy (``PAYLOADS_HIDDEN``), else the
    caller's role (``WITHHELD_FROM_VIEWERS``); None: they are shown."""
    if private:
        return PAYLOADS_HIDDEN
    return WITHHELD_FROM_VIEWERS if withheld else None


def _shown(status: WorkflowStatus, private: bool) -> WorkflowStatus:
    """The status as the console may show it: no input, output or error of a private app."""
    if not private:
        return status
    return replace(status, input=None, output=None, error=None, has_input=False, has_output=False)


def _shown_steps(steps: tuple[StepInfo, ...], private: bool) -> tuple[StepInfo, ...]:
    """The steps as the console may show them: no output or error of a private app's."""
    if not private:
        return steps
    return tuple(replace(step, output=None, error=None) for step in steps)
