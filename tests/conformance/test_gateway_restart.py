"""A gateway restart, clean (SIGTERM: drain) or not (SIGKILL: the pod dies), while workflows run:
executors reconnect, no recovery is issued, workflows finish where they started."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.records import RecoveryDecision
from tests.baton_cluster import BatonCluster
from tests.dbos_app.harness import ExecutorProcess, read_workflow, recorded_step_ids
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance


@pytest.fixture
def fresh_cluster(kafka_bootstrap: str, tmp_path: Path) -> Iterator[BatonCluster]:
    with BatonCluster(kafka_bootstrap, tmp_path / "baton") as running:
        yield running


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["drain", "kill"])
def test_gateway_restart_causes_no_recovery(
    fresh_cluster: BatonCluster, system_db: str, app_name: str, tmp_path: Path, stop_signal: int
) -> None:
    cluster = fresh_cluster
    key = cluster.create_key(app_name)
    started = [
        ExecutorProcess(
            app_name=app_name,
            system_db_url=system_db,
            marker_dir=tmp_path / "markers",
            conductor_url=cluster.conductor_url,
            conductor_key=key,
            app_version="v1",
            log_dir=tmp_path / f"executor{i}",
        ).start()
        for i in range(2)
    ]
    try:
        ids = [e.executor_id for e in started]
        assert_eventually(
            lambda: all(
                cluster.executors(app_name).get(i, {}).get("state") == "connected" for i in ids
            ),
            timeout_s=20,
            message="executors connected",
        )
        before = {i: cluster.executors(app_name)[i]["connected_at"] for i in ids}
        started[0].start_workflow("multi_step", "wf-restart", n=10, step_seconds=1.0)
        assert_eventually(
            lambda: recorded_step_ids(system_db, "wf-restart"),
            timeout_s=20,
            message="the workflow is running",
        )

        cluster.restart_gateway(stop_signal)

        assert_eventually(
            lambda: all(
                (row := cluster.executors(app_name).get(i, {})).get("state") == "connected"
                and row.get("connected_at") != before[i]
                for i in ids
            ),
            timeout_s=30,
            message="both executors reconnected to the new gateway",
        )
        time.sleep(5)  # past the 3 s grace: a wrongly declared death would show now
        final = assert_eventually(
            lambda: (
                (row := read_workflow(system_db, "wf-restart")) and row.status == "SUCCESS" and row
            ),
            timeout_s=40,
            message="wf-restart SUCCESS",
        )
        assert final.executor_id == ids[0]
        decisions = [r for r in cluster.audit_records(app_name) if isinstance(r, RecoveryDecision)]
        assert decisions == []
        assert cluster.recoveries(app_name) == []
        assert {n for n, executor in started[0].steps_of("wf-restart")} == set(range(1, 11))
        assert {executor for _, executor in started[0].steps_of("wf-restart")} == {ids[0]}
    finally:
        for executor in started:
            executor.terminate()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["clean", "kill"])
def test_worker_restart_rebuilds_state_without_false_recoveries(
    fresh_cluster: BatonCluster, system_db: str, app_name: str, tmp_path: Path, stop_signal: int
) -> None:
    """The liveness table is rebuilt from its changelog and the backlog; a death that happens
    while no worker runs is still recovered once one is back."""
    cluster = fresh_cluster
    key = cluster.create_key(app_name)

    def executor(index: int) -> ExecutorProcess:
        return ExecutorProcess(
            app_name=app_name,
            system_db_url=system_db,
            marker_dir=tmp_path / "markers",
            conductor_url=cluster.conductor_url,
            conductor_key=key,
            app_version="v1",
            log_dir=tmp_path / f"executor{index}",
        ).start()

    started = [executor(0), executor(1)]
    try:
        a, b = started
        assert_eventually(
            lambda: all(
                cluster.executors(app_name).get(e.executor_id, {}).get("state") == "connected"
                for e in started
            ),
            timeout_s=20,
            message="executors connected",
        )
        a.start_workflow("multi_step", "wf-worker", n=8, step_seconds=0.7)
        assert_eventually(
            lambda: recorded_step_ids(system_db, "wf-worker"),
            timeout_s=20,
            message="the workflow is running",
        )
        cluster.roles["worker"].stop(stop_signal)
        a.kill()  # dies while no worker is running
        time.sleep(4)  # longer than the grace period, with nobody to notice
        cluster.restart("worker")

        final = assert_eventually(
            lambda: (
                (row := read_workflow(system_db, "wf-worker")) and row.status == "SUCCESS" and row
            ),
            timeout_s=60,
            message="wf-worker SUCCESS after the worker came back",
        )
        assert final.executor_id == b.executor_id
        dead = {
            r.dead_executor_id
            for r in cluster.audit_records(app_name)
            if isinstance(r, RecoveryDecision)
        }
        assert dead == {a.executor_id}, "only the killed executor may be declared dead"
        assert cluster.executors(app_name)[b.executor_id]["state"] == "connected"
    finally:
        for process in started:
            process.terminate()


def test_executor_lost_with_its_gateway_pod_is_recovered_after_the_liveness_timeout(
    fresh_cluster: BatonCluster, system_db: str, app_name: str, tmp_path: Path
) -> None:
    """The pod and an executor die together (no disconnect is ever published): the survivor
    reconnects to the new pod, the lost executor falls silent and is recovered, later than a
    plain disconnect would be (the liveness timeout, not the grace period)."""
    cluster = fresh_cluster
    key = cluster.create_key(app_name)
    started = [
        ExecutorProcess(
            app_name=app_name,
            system_db_url=system_db,
            marker_dir=tmp_path / "markers",
            conductor_url=cluster.conductor_url,
            conductor_key=key,
            app_version="v1",
            log_dir=tmp_path / f"executor{i}",
        ).start()
        for i in range(2)
    ]
    try:
        a, b = started
        assert_eventually(
            lambda: all(
                cluster.executors(app_name).get(e.executor_id, {}).get("state") == "connected"
                for e in started
            ),
            timeout_s=20,
            message="executors connected",
        )
        a.start_workflow("multi_step", "wf-pod-lost", n=5, step_seconds=0.5)
        assert_eventually(
            lambda: recorded_step_ids(system_db, "wf-pod-lost"),
            timeout_s=20,
            message="the workflow is running on A",
        )
        cluster.roles["gateway"].stop(signal.SIGKILL)
        a.kill()
        lost_at = time.monotonic()
        cluster.restart_gateway(signal.SIGKILL)  # already dead: just starts the new pod

        final = assert_eventually(
            lambda: (
                (row := read_workflow(system_db, "wf-pod-lost")) and row.status == "SUCCESS" and row
            ),
            timeout_s=90,
            message="wf-pod-lost SUCCESS on B",
        )
        assert final.executor_id == b.executor_id
        decisions = [r for r in cluster.audit_records(app_name) if isinstance(r, RecoveryDecision)]
        dead = [r for r in decisions if r.step.value == "declared_dead"]
        assert [r.dead_executor_id for r in dead] == [a.executor_id]
        assert "silent" in dead[0].reason
        assert time.monotonic() - lost_at >= 10, "recovered sooner than the liveness timeout"
    finally:
        for executor in started:
            executor.terminate()


def test_executor_gone_after_a_drain_is_recovered_after_the_drain_grace(
    kafka_bootstrap: str, system_db: str, app_name: str, tmp_path: Path
) -> None:
    env = {"BATON_RECOVERY_DRAIN_GRACE_MS": "8000"}
    with BatonCluster(kafka_bootstrap, tmp_path / "baton", env=env) as cluster:
        key = cluster.create_key(app_name)
        started = [
            ExecutorProcess(
                app_name=app_name,
                system_db_url=system_db,
                marker_dir=tmp_path / "markers",
                conductor_url=cluster.conductor_url,
                conductor_key=key,
                app_version="v1",
                log_dir=tmp_path / f"executor{i}",
            ).start()
            for i in range(2)
        ]
        try:
            a, b = started
            assert_eventually(
                lambda: all(
                    cluster.executors(app_name).get(e.executor_id, {}).get("state") == "connected"
                    for e in started
                ),
                timeout_s=20,
                message="executors connected",
            )
            a.start_workflow("multi_step", "wf-drain", n=5, step_seconds=0.5)
            assert_eventually(
                lambda: recorded_step_ids(system_db, "wf-drain"),
                timeout_s=20,
                message="the workflow is running on A",
            )
            cluster.roles["gateway"].stop(signal.SIGTERM)  # drains: A's disconnect is marked
            a.kill()  # and A never comes back
            drained_at = time.monotonic()
            cluster.restart_gateway(signal.SIGTERM)
            final = assert_eventually(
                lambda: (
                    (row := read_workflow(system_db, "wf-drain"))
                    and row.status == "SUCCESS"
                    and row
                ),
                timeout_s=60,
                message="wf-drain SUCCESS on B",
            )
            assert final.executor_id == b.executor_id
            dead = [
                r
                for r in cluster.audit_records(app_name)
                if isinstance(r, RecoveryDecision) and r.step.value == "declared_dead"
            ]
            assert [r.dead_executor_id for r in dead] == [a.executor_id]
            assert "drained" in dead[0].reason
            waited = time.monotonic() - drained_at
            assert 7 <= waited < 30, f"recovered {waited:.1f} s after the drain"
        finally:
            for executor in started:
                executor.terminate()
