"""Roles restarting or dying while workflows run: a gateway restart, clean (SIGTERM: drain) or not
(SIGKILL: the pod dies), causes no recovery; a worker restart rebuilds its state; an executor lost
with its pod, or gone after a drain, is recovered after the longer timeout that applies."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.records import RecoveryStep
from tests.baton_cluster import BatonCluster
from tests.conformance.scenario import ExecutorPool
from tests.eventually import assert_eventually

pytestmark = [pytest.mark.conformance, pytest.mark.alone]

PoolOn = Callable[[BatonCluster], ExecutorPool]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["drain", "kill"])
def test_gateway_restart_causes_no_recovery(
    fresh_cluster: BatonCluster, pool_on: PoolOn, stop_signal: int
) -> None:
    pool = pool_on(fresh_cluster)
    a, b = pool.start_connected(2)
    ids = [a.executor_id, b.executor_id]
    before = {i: pool.cluster.executors(pool.app)[i]["connected_at"] for i in ids}
    pool.run(a, "wf-restart", n=10, step_s=1.0)

    fresh_cluster.restart_gateway(stop_signal)

    def reconnected() -> bool:
        rows = pool.wait_connected(a, b)
        return all(rows[i]["connected_at"] != before[i] for i in ids)

    assert_eventually(reconnected, timeout_s=30, message="both executors on the new gateway")
    time.sleep(5)  # past the 3 s grace: a wrongly declared death would show now
    assert pool.wait_success("wf-restart", timeout_s=40).executor_id == a.executor_id
    assert pool.decisions() == []
    assert fresh_cluster.recoveries(pool.app) == []
    steps = a.steps_of("wf-restart")
    assert {n for n, _ in steps} == set(range(1, 11))
    assert {executor for _, executor in steps} == {a.executor_id}


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["clean", "kill"])
def test_worker_restart_rebuilds_state_without_false_recoveries(
    fresh_cluster: BatonCluster, pool_on: PoolOn, stop_signal: int
) -> None:
    """The liveness table is rebuilt from its changelog and the backlog; a death that happens
    while no worker runs is still recovered once one is back."""
    pool = pool_on(fresh_cluster)
    a, b = pool.start_connected(2)
    pool.run(a, "wf-worker", n=8, step_s=0.7)
    fresh_cluster.roles["worker"].stop(stop_signal)
    a.kill()  # dies while no worker is running
    time.sleep(4)  # longer than the grace period, with nobody to notice
    fresh_cluster.restart("worker")

    assert pool.wait_success("wf-worker").executor_id == b.executor_id
    assert {d.dead_executor_id for d in pool.decisions()} == {a.executor_id}
    assert fresh_cluster.executors(pool.app)[b.executor_id]["state"] == "connected"


def test_executor_lost_with_its_gateway_pod_is_recovered_after_the_liveness_timeout(
    fresh_cluster: BatonCluster, pool_on: PoolOn
) -> None:
    """The pod and an executor die together (no disconnect is ever published): the survivor
    reconnects to the new pod, the lost executor falls silent and is recovered, later than a
    plain disconnect would be (the liveness timeout, not the grace period)."""
    pool = pool_on(fresh_cluster)
    a, b = pool.start_connected(2)
    pool.run(a, "wf-pod-lost", n=5, step_s=0.5)
    fresh_cluster.roles["gateway"].stop(signal.SIGKILL)
    a.kill()
    lost_at = time.monotonic()
    fresh_cluster.restart_gateway(signal.SIGKILL)  # already dead: starts the new pod

    assert pool.wait_success("wf-pod-lost", timeout_s=90).executor_id == b.executor_id
    dead = pool.decisions(RecoveryStep.DECLARED_DEAD)
    assert [d.dead_executor_id for d in dead] == [a.executor_id]
    assert "silent" in dead[0].reason
    assert time.monotonic() - lost_at >= 10, "recovered sooner than the liveness timeout"


def test_executor_gone_after_a_drain_is_recovered_after_the_drain_grace(
    kafka_bootstrap: str, tmp_path: Path, pool_on: PoolOn
) -> None:
    env = {"BATON_RECOVERY_DRAIN_GRACE_MS": "8000"}
    with BatonCluster(kafka_bootstrap, tmp_path / "baton", env=env) as cluster:
        pool = pool_on(cluster)
        a, b = pool.start_connected(2)
        pool.run(a, "wf-drain", n=5, step_s=0.5)
        cluster.roles["gateway"].stop(signal.SIGTERM)  # drains: A's disconnect is marked
        a.kill()  # and A never comes back
        drained_at = time.monotonic()
        cluster.restart_gateway(signal.SIGTERM)

        assert pool.wait_success("wf-drain").executor_id == b.executor_id
        dead = pool.decisions(RecoveryStep.DECLARED_DEAD)
        assert [d.dead_executor_id for d in dead] == [a.executor_id]
        assert "drained" in dead[0].reason
        waited = time.monotonic() - drained_at
        assert 7 <= waited < 30, f"recovered {waited:.1f} s after the drain"
        pool.terminate_all()
