"""More of what the DBOS protocol offers operators, through Baton with real executors: bulk fork
from failure and bulk restart, a schedule's backfill, application versions, and a workflow exported
and imported back (after its deletion). The helpers and the module's app come from
``test_management``.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.records import ExecutorReply, ExecutorRequest, OperatorAction, ReplyFailure
from tests.baton_cluster import BatonCluster
from tests.conformance.scenario import ExecutorPool
from tests.conformance.test_management import (
    RUN_TIMEOUT_S,
    act_ok,
    audit_entries,
    dbos_status,
    executor,
    managed,
    run_to_success,
    step_numbers,
    wait_captured,
    wait_dbos_status,
)
from tests.dbos_app.harness import SCHEDULE_NAME, ExecutorProcess
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance

__all__ = ["executor", "managed"]  # the fixtures, shared with test_management


def finished_job(cluster: BatonCluster, app: str, body: dict[str, Any]) -> dict[str, Any]:
    """Start a bulk job and wait for its end; returns the job with its items."""
    status, started = cluster.post(f"/api/v1/apps/{app}/bulk", body)
    assert status == 202, started
    path = f"/api/v1/apps/{app}/bulk/{started['job_id']}"
    assert_eventually(
        lambda: cluster.api(path)["state"] != "running",
        timeout_s=RUN_TIMEOUT_S,
        message=f"bulk job {started['job_id']} ends",
    )
    job: dict[str, Any] = cluster.api(path)
    return job


def test_bulk_fork_from_failure_runs_failed_workflows_again_from_their_failed_step(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    cluster, app = managed.cluster, managed.app
    failed = [f"fff-{i}" for i in range(3)]
    for workflow_id in failed:
        executor.start_workflow("failing", workflow_id, message=f"boom {workflow_id}")
    for workflow_id in failed:
        wait_dbos_status(executor, workflow_id, "ERROR")
        wait_captured(cluster, app, workflow_id, "ERROR")

    job = finished_job(
        cluster,
        app,
        {
            "action": "fork_from_failure",
            "filter": {"status": ["ERROR"], "workflow_id_prefix": "fff-"},
        },
    )
    assert job["state"] == "succeeded", job
    assert (job["total"], job["succeeded"]) == (3, 3), job
    for workflow_id in failed:
        forks = executor.forks_of(workflow_id)
        assert len(forks) == 1, (workflow_id, forks)
        # The fork fails again the same way: the workflow is built to fail.
        wait_dbos_status(executor, forks[0], "ERROR")


def test_bulk_restart_by_ids_makes_one_new_workflow_each(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    cluster, app = managed.cluster, managed.app
    originals = ["rst-a", "rst-b"]
    for workflow_id in originals:
        run_to_success(executor, workflow_id, "multi_step", n=1, step_seconds=0.01)
        wait_captured(cluster, app, workflow_id, "SUCCESS")

    job = finished_job(cluster, app, {"action": "restart", "workflow_ids": originals})
    assert job["state"] == "succeeded", job
    new_ids = {item["workflow_id"]: item["new_workflow_id"] for item in job["items"]}
    assert set(new_ids) == set(originals)
    for workflow_id, new_id in new_ids.items():
        assert executor.forks_of(workflow_id) == [new_id]
        wait_dbos_status(executor, new_id, "SUCCESS")
        assert step_numbers(executor, new_id) == [1]


def test_a_schedule_is_backfilled_over_a_time_range(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    cluster, app = managed.cluster, managed.app
    # The schedule fires at midnight on January 1st: one firing in a range holding one.
    start = datetime(2024, 12, 31, 12, tzinfo=UTC)
    status, answer = cluster.post(
        f"/api/v1/apps/{app}/schedules/{SCHEDULE_NAME}/backfill",
        {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()},
    )
    assert status == 200, answer
    assert answer["action"] == "schedule.backfill", answer
    (fired,) = answer["result"]["workflow_ids"]
    wait_dbos_status(executor, fired, "SUCCESS")


def test_application_versions_are_listed_and_one_is_made_latest(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    cluster, app = managed.cluster, managed.app
    versions = cluster.api(f"/api/v1/apps/{app}/versions")["versions"]
    names = [v["version_name"] for v in versions]
    assert executor.app_version in names, versions
    status, answer = cluster.post(
        f"/api/v1/apps/{app}/versions/latest", {"version_name": executor.app_version}
    )
    assert status == 200, answer
    assert answer["action"] == "version.set_latest", answer
    assert answer["target"] == executor.app_version, answer
    status, refused = cluster.post(f"/api/v1/apps/{app}/versions/latest", {})
    assert status == 400, refused
    assert "version_name" in refused["error"]


def test_an_exported_workflow_imports_back_after_its_deletion(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    cluster, app = managed.cluster, managed.app
    run_to_success(executor, "wf-export", "multi_step", n=2, step_seconds=0.01)
    status, exported = cluster.get(f"/api/v1/apps/{app}/workflows/wf-export/export?children=true")
    assert status == 200, exported
    serialized = exported["serialized_workflow"]
    assert isinstance(serialized, str)
    assert serialized  # DBOS's own format (gzipped JSON, base64)

    act_ok(cluster, app, "wf-export", "delete")
    assert dbos_status(executor, "wf-export") is None
    status, imported = cluster.post(
        f"/api/v1/apps/{app}/import", {"serialized_workflow": serialized}
    )
    assert status == 200, imported
    assert imported["action"] == "workflow.import", imported
    # The audit keeps the size of the blob, not the blob.
    assert imported["params"] == {"serialized_workflow_chars": len(serialized)}
    assert dbos_status(executor, "wf-export") == "SUCCESS"
    assert any(
        e["action"] == "workflow.export" and e["target"] == "wf-export"
        for e in audit_entries(cluster, app=app, action="workflow.")
    )


def test_an_action_whose_executor_left_is_retried_on_another(
    cluster: BatonCluster, pool: ExecutorPool
) -> None:
    """The store still lists the chosen executor as connected, but it has left its gateway (the
    worker that would notice is frozen): the gateway answers "not connected", and the console
    tries the other executor, with a new request id, under the same action."""
    executors = pool.start_connected(2)
    listed = cluster.api(f"/api/v1/apps/{pool.app}/executors")
    # The console's choice: most recently seen first, ties in executor id order.
    ordered = sorted(listed, key=lambda e: e["executor_id"])
    ordered.sort(key=lambda e: e["last_seen"], reverse=True)
    doomed = next(e for e in executors if e.executor_id == ordered[0]["executor_id"])
    survivor = next(e for e in executors if e is not doomed)
    survivor.start_workflow("multi_step", "wf-retried", n=5, step_seconds=1.0)
    wait_dbos_status(survivor, "wf-retried", "PENDING")

    worker = cluster.roles["worker"].process
    assert worker is not None
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        doomed.kill()
        time.sleep(0.5)  # the gateway sees the socket close; the store is not told
        status, answer = cluster.post(
            f"/api/v1/apps/{pool.app}/workflows/wf-retried/cancel",
            {},
            {"Idempotency-Key": "retried-cancel"},
        )
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    assert status == 200, answer
    assert answer["executor_id"] == survivor.executor_id, answer
    wait_dbos_status(survivor, "wf-retried", "CANCELLED")
    requests = sorted(  # keyed by target: two partitions, so no order between them
        (
            record
            for record in cluster.topic_records("commands", pool.app)
            if isinstance(record, ExecutorRequest)
            and record.request_id.startswith("retried-cancel#")
        ),
        key=lambda record: record.request_id,
    )
    assert [(r.request_id, r.target) for r in requests] == [
        ("retried-cancel#0", doomed.executor_id),
        ("retried-cancel#1", survivor.executor_id),
    ]
    replies: dict[str, ExecutorReply] = {
        record.request_id: record
        for record in cluster.topic_records("replies", pool.app)
        if isinstance(record, ExecutorReply)
    }
    assert replies["retried-cancel#0"].failure is ReplyFailure.NOT_CONNECTED
    assert replies["retried-cancel#1"].ok


def test_a_workflow_exported_from_one_app_is_imported_into_another(
    managed: ExecutorPool, executor: ExecutorProcess, pool: ExecutorPool
) -> None:
    """App B has its own executors and system database: the import lands there."""
    cluster, app = managed.cluster, managed.app
    (other,) = pool.start_connected(1)
    run_to_success(executor, "wf-moved", "multi_step", n=3, step_seconds=0.01)
    status, exported = cluster.get(f"/api/v1/apps/{app}/workflows/wf-moved/export")
    assert status == 200, exported
    assert other.workflow_status("wf-moved") is None

    status, imported = cluster.post(
        f"/api/v1/apps/{pool.app}/import",
        {"serialized_workflow": exported["serialized_workflow"]},
    )
    assert status == 200, imported
    assert imported["executor_id"] == other.executor_id, imported
    described = other.workflow_status("wf-moved")
    assert described is not None, "app B's system database now holds the workflow"
    assert described["status"] == "SUCCESS"
    assert "ran 3 steps" in described["output"]


def test_key_management_reaches_the_audit_topic(managed: ExecutorPool) -> None:
    """`baton keys` works on the store without a broker; the console's outbox publishes it."""
    cluster, app = managed.cluster, managed.app
    cluster.create_key(app)

    def key_actions() -> list[OperatorAction]:
        return [
            record
            for record in cluster.topic_records("audit", app)
            if isinstance(record, OperatorAction) and record.action == "key.created"
        ]

    assert_eventually(
        lambda: len(key_actions()) >= 2,  # the module's first key, and this one
        timeout_s=15,
        message="key.created records on the audit topic",
    )
    assert {record.actor for record in key_actions()} == {"cli"}
