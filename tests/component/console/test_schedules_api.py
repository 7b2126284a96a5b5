"""The management API's schedules: listed by a live executor, and acted on.

Seeded world (``seed.py``): app ``orders`` with executor ``e1`` (v1) CONNECTED and ``e0`` DEAD;
workflows ``wf-001``... on v1; executors are played by ``FakeChannel``.
"""

from __future__ import annotations

import httpx

from tests.component.console.channel import FakeChannel


async def test_schedules_are_listed_and_acted_on(
    api: httpx.AsyncClient, channel: FakeChannel
) -> None:
    schedules = await api.get("/api/v1/apps/orders/schedules")
    assert schedules.json()["schedules"][0]["schedule_name"] == "nightly"
    paused = await api.post("/api/v1/apps/orders/schedules/nightly/pause")
    assert paused.status_code == 200
    assert paused.json()["action"] == "schedule.pause"
    backfill = await api.post(
        "/api/v1/apps/orders/schedules/nightly/backfill",
        json={"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    )
    assert backfill.status_code == 400
    offline = await api.get("/api/v1/apps/payments/schedules")
    assert offline.status_code == 503
