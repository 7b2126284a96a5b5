"""Who polls, and from where: one poller per app across Faust workers (Kafka partition ownership),
and a restarted worker goes on from the persisted cursor instead of re-reading the history."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.records import PollWorkflows
from tests.baton_cluster import BatonCluster, read_topic
from tests.conformance.scenario import ExecutorPool
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance


def polls(cluster: BatonCluster, app: str) -> list[PollWorkflows]:
    """Every poll command issued for ``app`` (commands are keyed by executor; filter by app)."""
    records = asyncio.run(
        read_topic(cluster.kafka_bootstrap, f"{cluster.topic_prefix}commands", app)
    )
    return [r for r in records if isinstance(r, PollWorkflows)]


def listed_ids(cluster: BatonCluster, app: str) -> set[str]:
    listed = cluster.api(f"/api/v1/apps/{app}/workflows?limit=500")["workflows"]
    return {w["workflow_id"] for w in listed}


def test_two_workers_poll_each_app_once(
    kafka_bootstrap: str, tmp_path: Path, pool_on: Callable[[BatonCluster], ExecutorPool]
) -> None:
    with BatonCluster(kafka_bootstrap, tmp_path / "baton", workers=2) as cluster:
        pool = pool_on(cluster)
        (a,) = pool.start_connected(1)
        a.start_workflow("quick", "wf-one", x=1)
        assert_eventually(
            lambda: "wf-one" in listed_ids(cluster, pool.app),
            timeout_s=30,
            message="wf-one captured",
        )
        window_start_ms = int(time.time() * 1000)
        time.sleep(12)
        window = [p for p in polls(cluster, pool.app) if p.issued_at_ms >= window_start_ms]
        # One poller: about one poll per 2 s interval, each sequence number once.
        sequences = [int(p.command_id.rsplit(":", 1)[1]) for p in window]
        assert 3 <= len(window) <= 8, [p.command_id for p in window]
        assert len(set(sequences)) == len(sequences), sequences
        assert sequences == sorted(sequences), sequences
        pollers = [
            name
            for name, role in cluster.roles.items()
            if name.startswith("worker") and "capturing workflow statuses" in role.log_text()
        ]
        assert len(pollers) == 1, pollers
        pool.terminate_all()


def test_restarted_worker_resumes_from_the_persisted_cursor(
    fresh_cluster: BatonCluster, pool_on: Callable[[BatonCluster], ExecutorPool]
) -> None:
    cluster = fresh_cluster
    pool = pool_on(cluster)
    (a,) = pool.start_connected(1)
    for i in range(5):
        a.start_workflow("quick", f"wf-before-{i}", x=i)
    assert_eventually(
        lambda: {f"wf-before-{i}" for i in range(5)} <= listed_ids(cluster, pool.app),
        timeout_s=30,
        message="the first five captured",
    )
    # The next poll carries the advanced cursor.
    before = assert_eventually(
        lambda: [p for p in polls(cluster, pool.app) if p.cursor.created_from_ms > 0],
        timeout_s=10,
        message="a poll with an advanced cursor",
    )

    cluster.restart("worker", signal.SIGKILL)
    restarted_ms = int(time.time() * 1000)
    for i in range(5):
        a.start_workflow("quick", f"wf-after-{i}", x=i)
    assert_eventually(
        lambda: {f"wf-after-{i}" for i in range(5)} <= listed_ids(cluster, pool.app),
        timeout_s=60,
        message="the next five captured by the restarted worker",
    )
    after = [p for p in polls(cluster, pool.app) if p.issued_at_ms >= restarted_ms]
    assert after, "the restarted worker polls"
    # It did not start over from the beginning of the app's history.
    assert after[0].cursor.created_from_ms >= before[-1].cursor.created_from_ms > 0
