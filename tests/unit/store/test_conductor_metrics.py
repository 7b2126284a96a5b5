"""``store.conductor_metrics``'s pure part: the window, and how rows fold into samples."""

from __future__ import annotations

from store.app_metrics import ExecutorCount
from store.conductor_metrics import NamedCount, Oldest, samples, window

MINUTE = 60_000
T = 1_700_000_040_000  # 22:14:00.000Z: a minute boundary


def test_the_window_is_the_last_completed_clock_aligned_minute() -> None:
    assert window(T) == (T - MINUTE, T)
    assert window(T + 1) == (T - MINUTE, T)
    assert window(T + MINUTE - 1) == (T - MINUTE, T)
    assert window(T + MINUTE) == (T, T + MINUTE)


def test_pending_counts_and_oldest_fold_the_queues_of_a_workflow_name() -> None:
    reading = samples(
        counts=[
            NamedCount(app="a", name="n", queue_name="", status="PENDING", n=2),
            NamedCount(app="a", name="n", queue_name="q", status="PENDING", n=3),
            NamedCount(app="a", name="n", queue_name="q", status="SUCCESS", n=7),
        ],
        in_window=[],
        oldest=[
            Oldest(app="a", name="n", queue_name="q", status="PENDING", created_at_ms=5_000),
            Oldest(app="a", name="n", queue_name="", status="PENDING", created_at_ms=9_000),
        ],
        executors=[
            ExecutorCount(app="a", version="v1", state="connected", n=2),
            ExecutorCount(app="a", version="v1", state="disconnected", n=1),
        ],
        now_ms=T,
    )
    out = reading.samples
    assert out["dbos_conductor_v1_workflow_pending_count"] == {("a", "n"): 5}
    assert out["dbos_conductor_v1_workflow_oldest_pending_timestamp_seconds"] == {("a", "n"): 5.0}
    assert out["dbos_conductor_v1_executor_count"] == {("a", "HEALTHY", "v1"): 2}
    assert "dbos_conductor_v1_workflow_enqueued_count" not in out
    assert out["dbos_conductor_v1_workflow_started_rate"] == {}
    assert reading.window_start_s == (T - MINUTE) / 1000
