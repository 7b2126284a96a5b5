"""Horizontally scaled gateway pods: an executor's recovery is carried out by whichever pod
holds the chosen survivor, and each pod's executors are listed with their own pod."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.records import RecoveryDecision, RecoveryStep
from tests.baton_cluster import BatonCluster
from tests.dbos_app.harness import ExecutorProcess, read_workflow, recorded_step_ids
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance


@pytest.fixture
def two_pod_cluster(kafka_bootstrap: str, tmp_path: Path) -> Iterator[BatonCluster]:
    with BatonCluster(kafka_bootstrap, tmp_path / "baton", gateways=2) as running:
        yield running


def test_recovery_crosses_gateway_pods(
    two_pod_cluster: BatonCluster, system_db: str, app_name: str, tmp_path: Path
) -> None:
    cluster = two_pod_cluster
    key = cluster.create_key(app_name)
    started = [
        ExecutorProcess(
            app_name=app_name,
            system_db_url=system_db,
            marker_dir=tmp_path / "markers",
            conductor_url=cluster.conductor_url_of(index),
            conductor_key=key,
            app_version="v1",
            log_dir=tmp_path / f"executor{index}",
        ).start()
        for index in range(2)
    ]
    try:
        a, b = started
        rows = assert_eventually(
            lambda: (
                (r := cluster.executors(app_name))
                and all(r.get(e.executor_id, {}).get("state") == "connected" for e in started)
                and r
            ),
            timeout_s=20,
            message="executors connected to their pods",
        )
        assert rows[a.executor_id]["gateway"] != rows[b.executor_id]["gateway"]

        a.start_workflow("multi_step", "wf-pods", n=5, step_seconds=0.5)
        assert_eventually(
            lambda: recorded_step_ids(system_db, "wf-pods"),
            timeout_s=20,
            message="the workflow is running on A",
        )
        a.kill()

        final = assert_eventually(
            lambda: (
                (row := read_workflow(system_db, "wf-pods")) and row.status == "SUCCESS" and row
            ),
            timeout_s=60,
            message="wf-pods SUCCESS on B, reached through the other pod",
        )
        assert final.executor_id == b.executor_id
        sent = [
            r
            for r in cluster.audit_records(app_name)
            if isinstance(r, RecoveryDecision) and r.step is RecoveryStep.SUCCEEDED
        ]
        assert [r.target for r in sent] == [b.executor_id]
        assert "asking" in cluster.roles["gateway2"].log_text()
        assert "asking" not in cluster.roles["gateway"].log_text()
    finally:
        for executor in started:
            executor.terminate()


@pytest.fixture
def two_worker_cluster(kafka_bootstrap: str, tmp_path: Path) -> Iterator[BatonCluster]:
    with BatonCluster(kafka_bootstrap, tmp_path / "baton", workers=2) as running:
        yield running


def test_two_workers_share_the_apps_and_still_recover(
    two_worker_cluster: BatonCluster, system_db: str, app_name: str, tmp_path: Path
) -> None:
    cluster = two_worker_cluster
    key = cluster.create_key(app_name)
    started = [
        ExecutorProcess(
            app_name=app_name,
            system_db_url=system_db,
            marker_dir=tmp_path / "markers",
            conductor_url=cluster.conductor_url,
            conductor_key=key,
            app_version="v1",
            log_dir=tmp_path / f"executor{index}",
        ).start()
        for index in range(2)
    ]
    try:
        a, b = started
        assert_eventually(
            lambda: all(
                cluster.executors(app_name).get(e.executor_id, {}).get("state") == "connected"
                for e in started
            ),
            timeout_s=30,
            message="executors connected",
        )
        a.start_workflow("multi_step", "wf-workers", n=5, step_seconds=0.5)
        assert_eventually(
            lambda: recorded_step_ids(system_db, "wf-workers"),
            timeout_s=20,
            message="the workflow is running on A",
        )
        a.kill()
        final = assert_eventually(
            lambda: (
                (row := read_workflow(system_db, "wf-workers")) and row.status == "SUCCESS" and row
            ),
            timeout_s=60,
            message="wf-workers SUCCESS on B",
        )
        assert final.executor_id == b.executor_id
        decisions = [r for r in cluster.audit_records(app_name) if isinstance(r, RecoveryDecision)]
        assert {r.dead_executor_id for r in decisions} == {a.executor_id}
        # One app lives on one partition, so one worker decides for it.
        deciding = [
            name
            for name, role in cluster.roles.items()
            if name.startswith("worker") and "recovery of" in role.log_text()
        ]
        assert len(deciding) == 1, deciding
    finally:
        for executor in started:
            executor.terminate()
