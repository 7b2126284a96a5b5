"""Lists the dashboard reads live from an executor: schedules, application versions, and a
workflow's events, notifications and streams.

Owns the time bound of such a read (the console's live timeout) and what a page shows instead when
no executor answers in time, none is connected, or the answer is not a list. Not audited: a read
acts on nothing. Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from console.api.communication import COMMUNICATION
from console.detail import WITHHELD_FROM_VIEWERS
from management.actions import Actions
from management.outcomes import ActionFailed
from streams.ids import AppName, WorkflowId
from streams.records import RequestKind


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveList:
    """A list read live from an executor, or why there is none."""

    items: list[Mapping[str, Any]] | None
    error: str | None


class LiveLists:
    """Reads lists of a live executor, within a time bound.

    Args:
        actions: asks executors.
        live_timeout_s: how long a page waits for an executor's answer.
    """

    def __init__(self, actions: Actions, *, live_timeout_s: float) -> None:
        self._actions = actions
        self._live_timeout_s = live_timeout_s

    async def live_list(
        self, app: AppName, kind: RequestKind, key: str, workflow_id: str = ""
    ) -> LiveList:
        """The list ``key`` of a live executor's answer, or why there is none (within the live
        timeout)."""
        try:
            async with asyncio.timeout(self._live_timeout_s):
                answer = await self._actions.query(app, kind, workflow_id)
        except ActionFailed as exc:
            return LiveList(items=None, error=str(exc))
        except TimeoutError:
            return LiveList(
                items=None,
                error=f"no executor of app {app} answered within {self._live_timeout_s:g} s",
            )
        items = answer.get(key) if isinstance(answer, dict) else None
        if not isinstance(items, list):
            return LiveList(items=None, error=f"the executor's answer had no {key}")
        return LiveList(items=[item for item in items if isinstance(item, dict)], error=None)

    async def communication(
        self, app: AppName, workflow_id: WorkflowId, *, withheld: bool = False
    ) -> dict[str, LiveList]:
        """The workflow's events, notifications and streams, asked at once (``withheld``: not
        asked, the caller may not see payloads)."""
        if withheld:
            shown = LiveList(items=None, error=WITHHELD_FROM_VIEWERS)
            return dict.fromkeys(COMMUNICATION, shown)
        async with asyncio.TaskGroup() as tasks:
            asked = {
                key: tasks.create_task(self.live_list(app, kind, key, workflow_id))
                for key, kind in COMMUNICATION.items()
            }
        return {key: task.result() for key, task in asked.items()}
