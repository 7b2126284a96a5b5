"""The console's ``/metrics``: anonymous, Prometheus' text format, and per app the workflow and
executor families computed from the seeded store (not by asking executors)."""

from __future__ import annotations

from collections import Counter

import httpx
from asgi_lifespan import LifespanManager

from console.app import create_app
from runtime.clock import wall_ms
from runtime.metrics import Metrics
from store.database import Store
from store.workflow_projection import upsert_workflows
from tests.component.console.seed import ORDERS, WORKFLOWS, workflow
from tests.console_access import TEST_ACCESS
from tests.prometheus_text import Samples, parse, value


async def scrape_console(store: Store, metrics: Metrics | None = None) -> tuple[int, Samples]:
    app = create_app(store, access=TEST_ACCESS, metrics=metrics)
    async with LifespanManager(app) as running:
        transport = httpx.ASGITransport(app=running.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            response = await client.get("/metrics")  # no token, no session: anonymous
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.status_code, parse(response.text)


async def test_metrics_are_anonymous_and_count_the_stores_workflows(seeded_store: Store) -> None:
    status, samples = await scrape_console(seeded_store)
    assert status == 200
    assert value(samples, "baton_info", role="console") == 1
    statuses = Counter(w.status for w in WORKFLOWS if w.app == ORDERS)

    def of(name: str) -> float:
        return value(samples, name, app=ORDERS)

    assert of("baton_app_workflows_started_total") == sum(statuses.values())
    assert of("baton_app_workflows_succeeded_total") == statuses["SUCCESS"]
    assert of("baton_app_workflows_failed_total") == (
        statuses["ERROR"] + statuses["MAX_RECOVERY_ATTEMPTS_EXCEEDED"]
    )
    assert of("baton_app_workflows_cancelled_total") == statuses["CANCELLED"]
    assert of("baton_app_workflows_enqueued") == statuses["ENQUEUED"]
    assert of("baton_app_workflows_pending") == statuses["PENDING"]
    assert value(samples, "baton_app_executors", app=ORDERS, version="v1", state="connected") == 1
    assert value(samples, "baton_app_executors", app=ORDERS, version="v1", state="dead") == 1


async def test_the_oldest_enqueued_workflow_ages(seeded_store: Store) -> None:
    now = wall_ms()
    async with seeded_store.sessionmaker.begin() as session:
        await upsert_workflows(
            session,
            [
                workflow("wf-old-queue", "ENQUEUED", 0, app="metered", created_at_ms=now - 600_000),
                workflow("wf-new-queue", "ENQUEUED", 0, app="metered", created_at_ms=now - 5_000),
            ],
        )
    _, samples = await scrape_console(seeded_store)
    age = value(samples, "baton_app_workflows_oldest_enqueued_age_seconds", app="metered")
    assert 600 <= age < 660
    assert value(samples, "baton_app_workflows_oldest_pending_age_seconds", app="metered") == 0
    assert value(samples, "baton_app_workflows_enqueued", app="metered") == 2
