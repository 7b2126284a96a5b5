"""Baton on Apache Kafka (``deploy/local/kafka``, a 1-node KRaft cluster) instead of the embedded
broker: ``baton up --kafka`` runs every role against it, a real DBOS executor connects, shows in
the console and its workflow is captured."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.baton_cluster import BatonCluster
from tests.conformance.scenario import ExecutorPool
from tests.eventually import assert_eventually

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
