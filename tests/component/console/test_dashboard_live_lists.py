"""What the dashboard reads live from an executor: a workflow's events, notifications and streams
on its page, and what the page says when no executor answers (none, no broker, a silent one)."""

from __future__ import annotations

import time

from store.database import Store
from tests.component.console.dashboard_client import (
    ESCAPED_XSS,
    Console,
    FakeExecutor,
    HangingChannel,
    page,
    serve,
)
from tests.component.console.seed import XSS


async def test_detail_page_shows_events_notifications_and_streams_escaped(
    console: Console, executor: FakeExecutor
) -> None:
    executor.events["wf-003"] = [{"key": "progress", "value": f"50% {XSS}"}]
    executor.notifications["wf-003"] = [
        {"topic": "pay", "message": XSS, "created_at_ms": 1_700_000_000_000, "consumed": True}
    ]
    executor.streams["wf-003"] = [{"key": "log", "values": ["one", "two", XSS]}]
    html = await page(console.client, "/apps/orders/workflows/wf-003")
    assert XSS not in html
    assert html.count('data-testid="event-row"') == 1
    assert f"50% {ESCAPED_XSS}" in html
    assert html.count('data-testid="notification-row"') == 1
    assert "2023-11-14 22:13:20.000 UTC" in html
    assert '<span class="count">3</span>' in html
    assert 'data-testid="communication-unavailable"' not in html


async def test_detail_page_says_when_no_executor_answers(console: Console) -> None:
    html = await page(console.client, "/apps/billing/workflows/inv-1")
    assert 'data-testid="communication-unavailable"' in html
    assert "no executor of app billing is connected" in html


async def test_detail_page_without_a_broker_says_so(seeded_store: Store) -> None:
    async with serve(seeded_store, None) as c:
        html = await page(c.client, "/apps/orders/workflows/wf-002")
    assert "Not available: actions need the Kafka broker" in html


async def test_a_silent_executor_does_not_hold_the_page(seeded_store: Store) -> None:
    async with serve(seeded_store, HangingChannel(), live_timeout_s=0.2) as c:
        started = time.monotonic()
        html = await page(c.client, "/apps/orders/workflows/wf-003")
    assert time.monotonic() - started < 5
    assert "no executor of app orders answered within 0.2 s" in html
