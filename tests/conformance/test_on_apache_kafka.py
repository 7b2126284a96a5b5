"""Baton on Apache Kafka (``deploy/local/kafka``, a 1-node KRaft cluster) instead of the embedded
broker: ``baton up --kafka`` runs every role against it, a real DBOS executor connects, shows in
the console and its workflow is captured; and when that broker comes back empty (its storage
wiped), ``baton up`` re-creates its topics and recovers again (``baton.topic_keeper``)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.baton_cluster import BatonCluster
from tests.conformance.scenario import ExecutorPool
from tests.eventually import assert_eventually
from tests.local_kafka import LocalKafka, running_kafka

pytestmark = [pytest.mark.conformance, pytest.mark.timeout(300)]


@pytest.fixture
def up_on_kafka(apache_kafka_bootstrap: str, tmp_path: Path) -> Iterator[BatonCluster]:
    """``baton up --kafka`` on the session's Apache Kafka, stopped after the test."""
    cluster = BatonCluster(apache_kafka_bootstrap, tmp_path / "baton")
    try:
        yield cluster.start_up()
    finally:
        cluster.stop()


def test_baton_up_serves_a_dbos_executor_on_apache_kafka(
    up_on_kafka: BatonCluster, pool_on: Callable[[BatonCluster], ExecutorPool]
) -> None:
    cluster = up_on_kafka
    assert "embedded broker" not in cluster.roles["up"].log_text()
    pool = pool_on(cluster)
    (executor,) = pool.start_connected(1)

    status, executors = cluster.get(f"/api/v1/apps/{pool.app}/executors")
    assert status == 200, executors
    assert [e["executor_id"] for e in executors] == [executor.executor_id]

    executor.start_workflow("multi_step", "wf-on-kafka", n=2, step_seconds=0.1)
    pool.wait_success("wf-on-kafka")

    def captured() -> dict[str, str]:
        status, body = cluster.get(f"/api/v1/apps/{pool.app}/workflows")
        assert status == 200, body
        listed = {w["workflow_id"]: w["status"] for w in body["workflows"]}
        assert listed == {"wf-on-kafka": "SUCCESS"}, listed
        return listed

    assert_eventually(captured, timeout_s=30, message="the workflow captured through Kafka")


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[LocalKafka]:
    """A 1-node Apache Kafka of this test's own: it is wiped."""
    with running_kafka(tmp_path / "kafka", nodes=1) as kafka:
        yield kafka


def test_baton_up_re_creates_its_topics_on_a_broker_back_empty(
    own_kafka: LocalKafka, tmp_path: Path, pool_on: Callable[[BatonCluster], ExecutorPool]
) -> None:
    cluster = BatonCluster(own_kafka.bootstrap, tmp_path / "baton")
    try:
        cluster.start_up()
        pool = pool_on(cluster)
        a, b = pool.start_connected(2)

        own_kafka.stop()
        shutil.rmtree(own_kafka.directory / "node1" / "data")  # back empty, same address
        restarting = time.monotonic()
        own_kafka.start(nodes=1)
        serving_s = time.monotonic() - restarting

        def ready() -> bool:
            status, body = cluster.get("/readyz")
            assert status == 200, body
            return True

        assert_eventually(ready, timeout_s=60, interval_s=0.2, message="the console ready again")
        ready_s = time.monotonic() - restarting
        # The console is ready once the topics exist again; the keeper logs it a moment later.
        assert_eventually(
            lambda: "re-created" in cluster.roles["up"].log_text(),
            timeout_s=30,
            interval_s=0.2,
            message="the topic keeper's re-creation logged",
        )
        assert "lost" in cluster.roles["up"].log_text()
        pool.wait_connected(a, b)
        connected_s = time.monotonic() - restarting

        # The worker runs again on the new topics: a crash is still recovered.
        pool.run(a, "wf-after-wipe", n=4, step_s=0.5)
        a.kill()
        crashed_at = time.monotonic()
        assert pool.wait_success("wf-after-wipe", timeout_s=60).executor_id == b.executor_id
        recovered_s = time.monotonic() - crashed_at
        assert {d.dead_executor_id for d in pool.decisions()} == {a.executor_id}
        print(
            f"broker back empty: serving {serving_s:.1f}s after its start; topics re-created "
            f"and the console ready {ready_s:.1f}s after it, executors listed connected "
            f"{connected_s:.1f}s after it; a crash then recovered in {recovered_s:.1f}s"
        )
    finally:
        cluster.stop()
