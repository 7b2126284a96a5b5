"""``store.app_metrics.samples``: the per-app families from the store's rows."""

from __future__ import annotations

from runtime.metrics import (
    APP_EXECUTORS,
    APP_OLDEST_ENQUEUED_AGE,
    APP_OLDEST_PENDING_AGE,
    APP_WORKFLOWS_CANCELLED,
    APP_WORKFLOWS_ENQUEUED,
    APP_WORKFLOWS_FAILED,
    APP_WORKFLOWS_PENDING,
    APP_WORKFLOWS_STARTED,
    APP_WORKFLOWS_SUCCEEDED,
)
from store.app_metrics import ExecutorCount, Oldest, StatusCount, samples

NOW_MS = 1_700_000_000_000


def test_workflows_by_outcome_and_ages() -> None:
    out = samples(
        [
            StatusCount(app="shop", status="SUCCESS", n=5),
            StatusCount(app="shop", status="ERROR", n=2),
            StatusCount(app="shop", status="MAX_RECOVERY_ATTEMPTS_EXCEEDED", n=1),
            StatusCount(app="shop", status="CANCELLED", n=3),
            StatusCount(app="shop", status="ENQUEUED", n=4),
            StatusCount(app="shop", status="PENDING", n=6),
            StatusCount(app="shop", status="DELAYED", n=7),
            StatusCount(app="quiet", status="SUCCESS", n=1),
        ],
        [
            Oldest(app="shop", status="ENQUEUED", created_at_ms=NOW_MS - 90_000),
            Oldest(app="shop", status="PENDING", created_at_ms=NOW_MS - 1_500),
        ],
        [
            ExecutorCount(app="shop", version="v1", state="connected", n=2),
            ExecutorCount(app="shop", version="v0", state="dead", n=1),
        ],
        NOW_MS,
    )
    assert out[APP_WORKFLOWS_STARTED.name] == {("shop",): 28, ("quiet",): 1}
    assert out[APP_WORKFLOWS_SUCCEEDED.name] == {("shop",): 5, ("quiet",): 1}
    assert out[APP_WORKFLOWS_FAILED.name] == {("shop",): 3, ("quiet",): 0}
    assert out[APP_WORKFLOWS_CANCELLED.name] == {("shop",): 3, ("quiet",): 0}
    assert out[APP_WORKFLOWS_ENQUEUED.name] == {("shop",): 4, ("quiet",): 0}
    assert out[APP_WORKFLOWS_PENDING.name] == {("shop",): 6, ("quiet",): 0}
    assert out[APP_OLDEST_ENQUEUED_AGE.name] == {("shop",): 90, ("quiet",): 0}
    assert out[APP_OLDEST_PENDING_AGE.name] == {("shop",): 1.5, ("quiet",): 0}
    assert out[APP_EXECUTORS.name] == {("shop", "v1", "connected"): 2, ("shop", "v0", "dead"): 1}


def test_an_empty_store_has_no_samples() -> None:
    out = samples([], [], [], NOW_MS)
    assert all(not values for values in out.values())
    assert set(out) == {
        APP_WORKFLOWS_STARTED.name,
        APP_WORKFLOWS_SUCCEEDED.name,
        APP_WORKFLOWS_FAILED.name,
        APP_WORKFLOWS_CANCELLED.name,
        APP_WORKFLOWS_ENQUEUED.name,
        APP_WORKFLOWS_PENDING.name,
        APP_OLDEST_ENQUEUED_AGE.name,
        APP_OLDEST_PENDING_AGE.name,
        APP_EXECUTORS.name,
    }
