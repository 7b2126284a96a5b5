"""The management API's view of a workflow's communication, asked of a live executor.

Seeded world (``seed.py``): app ``orders`` with executor ``e1`` (v1) CONNECTED and ``e0`` DEAD;
workflows ``wf-001``... on v1; executors are played by ``FakeChannel``.
"""

from __future__ import annotations

import httpx

from tests.component.console.channel import FakeChannel

WF = "/api/v1/apps/orders/workflows"


async def test_a_workflows_events_are_asked_of_a_live_executor(
    api: httpx.AsyncClient, channel: FakeChannel
) -> None:
    events = await api.get(f"{WF}/wf-001/events")
    assert events.json() == {"events": [{"key": "progress", "value": '"50%"'}]}
