"""The dashboard's schedules and versions pages, read live from an executor, and their actions."""

from __future__ import annotations

import re

from streams.records import RequestKind
from tests.component.console.dashboard_client import (
    Console,
    FakeExecutor,
    form_action,
    hidden,
    page,
    post,
)
from tests.component.console.seed import XSS, audit_rows

SCHEDULES = [
    {
        "schedule_id": "s1",
        "schedule_name": "nightly",
        "workflow_name": "report",
        "workflow_class_name": None,
        "schedule": "0 2 * * *",
        "status": "ACTIVE",
        "last_fired_at": "2026-01-01T02:00:00Z",
        "automatic_backfill": False,
        "cron_timezone": "UTC",
        "queue_name": None,
    },
    {
        "schedule_id": "s2",
        "schedule_name": f"hourly {XSS}",
        "workflow_name": "tick",
        "workflow_class_name": None,
        "schedule": "0 * * * *",
        "status": "PAUSED",
        "last_fired_at": None,
        "automatic_backfill": True,
        "cron_timezone": None,
        "queue_name": "ticks",
    },
]


async def test_schedules_page_lists_and_acts(console: Console, executor: FakeExecutor) -> None:
    executor.schedules = SCHEDULES
    html = await page(console.client, "/apps/orders/schedules")
    assert html.count('data-testid="schedule-row"') == 2
    assert XSS not in html
    assert 'href="/apps/orders/schedules/nightly/confirm?action=pause"' in html
    assert "/schedules/hourly%20%3Cscript%3Ealert%281%29%3C%2Fscript%3E/confirm?action=resume" in (
        html
    )

    confirm = await page(console.client, "/apps/orders/schedules/nightly/confirm?action=trigger")
    assert "Trigger schedule" in confirm
    assert form_action(confirm) == "/apps/orders/schedules/nightly/actions/trigger"
    key = hidden(confirm, "idempotency_key")
    response = await post(console.client, form_action(confirm), {"idempotency_key": key})
    assert response.status_code == 303
    assert response.headers["location"] == f"/apps/orders/schedules?done={key}"
    [request] = executor.acts(RequestKind.TRIGGER_SCHEDULE)
    assert dict(request.params) == {"schedule_name": "nightly"}
    after = await page(console.client, response.headers["location"])
    assert 'data-testid="flash" data-outcome="succeeded"' in after
    assert 'href="/apps/orders/workflows/sched-run-1"' in after


async def test_schedule_backfill_checks_its_times(console: Console, executor: FakeExecutor) -> None:
    response = await post(
        console.client,
        "/apps/orders/schedules/nightly/actions/backfill",
        {"idempotency_key": "k-bf", "start": "yesterday", "end": "2026-01-02T00:00:00Z"},
    )
    assert response.status_code == 400
    assert "must be an ISO 8601 time" in response.text
    assert executor.requests == []


async def test_schedules_page_without_an_executor_says_so(console: Console) -> None:
    html = await page(console.client, "/apps/billing/schedules")
    assert 'data-testid="live-unavailable"' in html
    assert "no executor of app billing is connected" in html


async def test_versions_page_marks_the_latest_and_makes_another_one_latest(
    console: Console, executor: FakeExecutor
) -> None:
    executor.versions = [
        {"version_id": "i2", "version_name": "v2", "version_timestamp": 2_000, "created_at": 2_000},
        {"version_id": "i1", "version_name": "v1", "version_timestamp": 1_000, "created_at": 1_000},
    ]
    html = await page(console.client, "/apps/orders/versions")
    assert html.count('data-testid="version-row"') == 2
    assert html.count('data-testid="latest-version"') == 1
    assert re.search(r'data-version="v2">\s*<th scope="row" class="mono">v2 <span', html)
    [href] = re.findall(r'href="([^"]*)" data-testid="make-latest"', html)
    assert href == "/apps/orders/versions/confirm?version_name=v1"

    confirm = await page(console.client, href)
    assert "Make version" in confirm
    assert hidden(confirm, "version_name") == "v1"
    response = await post(
        console.client,
        form_action(confirm),
        {"idempotency_key": hidden(confirm, "idempotency_key"), "version_name": "v1"},
    )
    assert response.status_code == 303
    [request] = executor.acts(RequestKind.SET_LATEST_VERSION)
    assert dict(request.params) == {"version_name": "v1"}
    [row] = await audit_rows(console.store, action="version.set_latest")
    assert row.subject == "v1"
