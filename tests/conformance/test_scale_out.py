"""Scaling out: with two gateway pods, a recovery is carried out by whichever pod holds the chosen
survivor; with two Faust workers, each app is decided by the one worker owning its partition."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from streams.records import RecoveryStep
from tests.baton_cluster import BatonCluster
from tests.conformance.scenario import ExecutorPool

pytestmark = pytest.mark.conformance


def test_recovery_crosses_gateway_pods(
    kafka_bootstrap: str, tmp_path: Path, pool_on: Callable[[BatonCluster], ExecutorPool]
) -> None:
    with BatonCluster(kafka_bootstrap, tmp_path / "baton", gateways=2) as cluster:
        pool = pool_on(cluster)
        a, b = pool.start("v1", gateway=0), pool.start("v1", gateway=1)
        rows = pool.wait_connected(a, b)
        assert rows[a.executor_id]["gateway"] != rows[b.executor_id]["gateway"]

        pool.run(a, "wf-pods", n=5, step_s=0.5)
        a.kill()

        assert pool.wait_success("wf-pods").executor_id == b.executor_id
        assert [d.target for d in pool.decisions(RecoveryStep.SUCCEEDED)] == [b.executor_id]
        assert "asking" in cluster.roles["gateway2"].log_text()
        assert "asking" not in cluster.roles["gateway"].log_text()
        pool.terminate_all()


def test_two_workers_share_the_apps_and_still_recover(
    kafka_bootstrap: str, tmp_path: Path, pool_on: Callable[[BatonCluster], ExecutorPool]
) -> None:
    with BatonCluster(kafka_bootstrap, tmp_path / "baton", workers=2) as cluster:
        pool = pool_on(cluster)
        a, b = pool.start_connected(2)
        pool.run(a, "wf-workers", n=5, step_s=0.5)
        a.kill()

        assert pool.wait_success("wf-workers").executor_id == b.executor_id
        assert {d.dead_executor_id for d in pool.decisions()} == {a.executor_id}
        # One app lives on one partition, so one worker decides for it.
        deciding = [
            name
            for name, role in cluster.roles.items()
            if name.startswith("worker") and "recovery of" in role.log_text()
        ]
        assert len(deciding) == 1, deciding
        pool.terminate_all()
