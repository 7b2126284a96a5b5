"""Every DBOS client besides the default one, for real against Baton's processes: Python
``dbos==3.2.0``, TypeScript ``@dbos-inc/dbos-sdk@5.2.11``, Go ``dbos-transact-golang v1.6.0``,
Java ``dev.dbos:transact 1.1.0-m6``, Python ``dbos==3.3.0`` and ``3.4.0`` through Baton's own
connector (``connectors/python``: no Conductor client in their open core), and TypeScript
``@dbos-inc/dbos-sdk@5.3.0`` through ``connectors/typescript`` (``tests/clients/catalog.py``).

Each test runs once per client, on its own app and system database: the client connects with a
key and is listed with what it sends; a SIGKILL mid-workflow is recovered on a survivor of the same
client, exactly once, without running checkpointed steps again (a parent and its child workflow
too), and so is one a graceful shutdown left PENDING; the workflows list, the detail
(inputs, outputs and errors as the SDK writes them) and the steps are captured; cancel, resume,
restart, fork from a step, delete and a bulk cancel act through the console API.

Step numbering: ``multi_step``'s step ``k`` is DBOS function id ``client.function_id_of_step(k)``
(Python counts from 1, TypeScript from 0); a fork from ``start_step=f`` copies the checkpoints of
function ids below ``f`` and runs the rest again, so its marker file holds only the steps re-run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.records import CommandProgress
from tests.baton_cluster import BatonCluster
from tests.clients.catalog import (
    GO_1_6,
    GO_1_7_CONNECTOR,
    GO_1_8_CONNECTOR,
    GO_1_9_CONNECTOR,
    JAVA_1_1,
    PYTHON_3_2,
    PYTHON_3_3_CONNECTOR,
    PYTHON_3_4_CONNECTOR,
    TYPESCRIPT_5_2,
    TYPESCRIPT_5_3_CONNECTOR,
)
from tests.clients.client import Client
from tests.conformance.scenario import (
    ExecutorPool,
    assert_checkpointed_steps_kept,
    crash_mid_workflow,
)
from tests.conformance.test_management import (
    CAPTURE_TIMEOUT_S,
    RUN_TIMEOUT_S,
    act_ok,
    assert_stays,
    console_statuses,
    dbos_status,
    step_numbers,
    wait_captured,
    wait_dbos_status,
)
from tests.dbos_app.harness import recorded_step_ids
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance

CLIENTS = [
    PYTHON_3_2,
    TYPESCRIPT_5_2,
    GO_1_6,
    JAVA_1_1,
    PYTHON_3_3_CONNECTOR,
    PYTHON_3_4_CONNECTOR,
    TYPESCRIPT_5_3_CONNECTOR,
    GO_1_7_CONNECTOR,
    GO_1_8_CONNECTOR,
    GO_1_9_CONNECTOR,
]
SCRIPTED_CLIENTS = [
    PYTHON_3_2,
    TYPESCRIPT_5_2,
    PYTHON_3_3_CONNECTOR,
    PYTHON_3_4_CONNECTOR,
    TYPESCRIPT_5_3_CONNECTOR,
]
"""The clients whose apps run the parent/child scenario (``parent`` starts ``multi_step`` as
``<id>-child``). The Go and Java apps' ``parent`` starts ``quick``: not run for them yet."""
CLOSE_CODE_ON_SIGTERM = {"python": 1000, "typescript": 1005, "go": 1000, "java": 1006}
"""How each language's stock client closes its session on SIGTERM; Baton's connectors close with
1000 (``CONNECTOR_CLOSE_CODE``)."""
CONNECTOR_CLOSE_CODE = 1000


@pytest.fixture(params=CLIENTS, ids=[client.label for client in CLIENTS])
def client(request: pytest.FixtureRequest) -> Client:
    chosen: Client = request.param
    return chosen


@pytest.fixture
def fleet(
    cluster: BatonCluster, client: Client, app_name: str, system_db: str, tmp_path: Path
) -> Iterator[ExecutorPool]:
    """Executors of ``client`` for this test's app; all are stopped after the test."""
    pool = ExecutorPool(cluster, app_name, system_db, tmp_path, client)
    try:
        yield pool
    finally:
        pool.terminate_all()


@pytest.mark.compat("connect")
def test_an_executor_connects_and_is_listed_with_what_it_sends(fleet: ExecutorPool) -> None:
    a = fleet.start("v1")
    b = fleet.start("v2")

    rows = fleet.wait_connected(a, b)
    row = rows[a.executor_id]
    assert row["language"] == fleet.client.language, row
    assert row["dbos_version"] == fleet.client.sdk_version, row
    assert row["application_version"] == "v1", row
    assert rows[b.executor_id]["application_version"] == "v2"
    assert row["hostname"], row
    assert row["gateway"], row
    assert str(row["last_seen"]).endswith("Z"), row
    table = fleet.cluster.cli("executors", fleet.app)
    assert a.executor_id in table
    assert b.executor_id in table


@pytest.mark.compat("recovery")
def test_a_killed_executors_workflow_finishes_once_on_a_survivor(
    fleet: ExecutorPool, system_db: str
) -> None:
    a, b = fleet.start_connected(2)
    checkpointed = crash_mid_workflow(a, system_db, "wf-crash", n=6, step_s=0.7)

    final = fleet.wait_success("wf-crash")
    assert final.executor_id == b.executor_id
    steps = assert_checkpointed_steps_kept(a, "wf-crash", checkpointed)
    assert {number for number, _ in steps} == set(range(1, 7))
    assert [executor for number, executor in steps if number == 6] == [b.executor_id]
    described = b.workflow_status("wf-crash")
    assert described is not None
    assert described["status"] == "SUCCESS", described
    assert "ran 6 steps" in described["output"], described

    def succeeded() -> list[dict[str, Any]]:
        # Every recovery listed (state, attempt, target) goes into the failure message: a
        # timeout says whether the recovery was missing, in flight or retried.
        listed = fleet.cluster.recoveries(fleet.app)
        done = [r for r in listed if r["state"] == "succeeded"]
        assert done, listed
        return done

    try:
        recovery = assert_eventually(
            succeeded, timeout_s=10, message="recovery listed as succeeded"
        )
    except AssertionError as exc:
        # What the gateways reported on the executor events topic (sent, succeeded, failed):
        # tells a report never published from one the worker did not fold.
        reports = [
            (r.status.value, r.command_id, r.ts_ms)
            for r in fleet.cluster.topic_records("executor-events", fleet.app)
            if isinstance(r, CommandProgress)
        ]
        raise AssertionError(f"{exc}; command progress on the topic: {reports}") from exc
    assert [(r["dead_executor_id"], r["target"]) for r in recovery] == [
        (a.executor_id, b.executor_id)
    ]
    states = fleet.cluster.executors(fleet.app)
    assert states[a.executor_id]["state"] == "recovered"
    assert states[b.executor_id]["state"] == "connected"


@pytest.mark.compat("graceful")
def test_a_gracefully_stopped_executors_pending_workflow_is_still_recovered(
    fleet: ExecutorPool,
) -> None:
    """SIGTERM: each client closes its session its own way (``CLOSE_CODE_ON_SIGTERM``); in every
    case the workflow it left PENDING finishes on the survivor, never lost."""
    a, b = fleet.start_connected(2)
    fleet.run(a, "wf-term", n=5, step_s=1.0)
    assert a.terminate() == 0

    assert fleet.wait_success("wf-term").executor_id == b.executor_id
    row = fleet.cluster.executors(fleet.app)[a.executor_id]
    client = fleet.client
    closing = CONNECTOR_CLOSE_CODE if client.connector else CLOSE_CODE_ON_SIGTERM[client.language]
    assert row["close_code"] == closing, row
    assert row["state"] == "recovered", row
    assert {number for number, _ in a.steps_of("wf-term")} == {1, 2, 3, 4, 5}


@pytest.mark.parametrize("client", SCRIPTED_CLIENTS, ids=[c.label for c in SCRIPTED_CLIENTS])
@pytest.mark.compat("child")
def test_a_parent_and_its_child_killed_mid_child_both_finish_on_a_survivor(
    fleet: ExecutorPool, system_db: str
) -> None:
    a, b = fleet.start_connected(2)
    a.start_workflow("parent", "wf-parent", n=4, step_seconds=0.7)
    assert_eventually(
        lambda: len(recorded_step_ids(system_db, "wf-parent-child")) >= 1,
        timeout_s=20,
        message="the child checkpointed a step on A",
    )
    a.kill()

    assert fleet.wait_success("wf-parent-child").executor_id == b.executor_id
    assert fleet.wait_success("wf-parent").executor_id == b.executor_id
    steps = a.steps_of("wf-parent-child")
    assert {number for number, _ in steps} == {1, 2, 3, 4}, steps
    assert [number for number, _ in steps].count(1) == 1, f"checkpointed step 1 re-run: {steps}"
    described = b.workflow_status("wf-parent")
    assert described is not None
    assert "parent of wf-parent-child ran 4 steps" in described["output"], described
    wait_captured(fleet.cluster, fleet.app, "wf-parent", "SUCCESS")
    wait_captured(fleet.cluster, fleet.app, "wf-parent-child", "SUCCESS")


@pytest.mark.compat("capture")
def test_workflows_are_listed_with_their_detail_and_steps(fleet: ExecutorPool) -> None:
    cluster, app = fleet.cluster, fleet.app
    (a,) = fleet.start_connected(1)
    a.start_workflow("quick", "wf-ok", x=21)
    a.start_workflow("failing", "wf-err", message="it broke <here>")
    a.start_workflow("multi_step", "wf-steps", n=3, step_seconds=0.05)
    for workflow_id, status in (("wf-ok", "SUCCESS"), ("wf-err", "ERROR"), ("wf-steps", "SUCCESS")):
        wait_captured(cluster, app, workflow_id, status)

    listed = {w["workflow_id"]: w for w in _workflows(cluster, app)}
    assert {w: listed[w]["status"] for w in ("wf-ok", "wf-err", "wf-steps")} == {
        "wf-ok": "SUCCESS",
        "wf-err": "ERROR",
        "wf-steps": "SUCCESS",
    }
    assert listed["wf-ok"]["name"].rsplit(".", 1)[-1] == "quick", listed["wf-ok"]
    assert listed["wf-ok"]["executor_id"] == a.executor_id, listed["wf-ok"]
    assert listed["wf-ok"]["application_version"] == "v1", listed["wf-ok"]

    ok = cluster.api(f"/api/v1/apps/{app}/workflows/wf-ok")
    assert "21" in ok["input"], ok
    assert "42" in ok["output"], ok
    assert ok["error"] in (None, ""), ok
    err = cluster.api(f"/api/v1/apps/{app}/workflows/wf-err")
    assert "it broke <here>" in err["error"], err
    assert "it broke <here>" in _as_written(err["input"]), err

    steps = cluster.api(f"/api/v1/apps/{app}/workflows/wf-steps/steps")["steps"]
    assert [s["function_name"].rsplit(".", 1)[-1] for s in steps] == ["marked_step"] * 3, steps
    assert [s["function_id"] for s in steps] == [
        fleet.client.function_id_of_step(k) for k in (1, 2, 3)
    ], steps
    assert all(a.executor_id in str(s["output"]) for s in steps), steps
    failed_steps = cluster.api(f"/api/v1/apps/{app}/workflows/wf-err/steps")["steps"]
    assert [s["function_name"].rsplit(".", 1)[-1] for s in failed_steps] == ["prepare"]


@pytest.mark.compat("cancel_resume")
def test_cancel_stops_a_workflow_and_resume_finishes_it(fleet: ExecutorPool) -> None:
    cluster, app = fleet.cluster, fleet.app
    (a,) = fleet.start_connected(1)
    a.start_workflow("multi_step", "wf-cancel", n=5, step_seconds=1.5)
    assert_eventually(
        lambda: len(a.steps_of("wf-cancel")) >= 2,
        timeout_s=RUN_TIMEOUT_S,
        message="wf-cancel is in its second step",
    )

    cancelled = act_ok(cluster, app, "wf-cancel", "cancel")
    assert cancelled["executor_id"] == a.executor_id
    ran = step_numbers(a, "wf-cancel")
    assert dbos_status(a, "wf-cancel") == "CANCELLED"
    assert_stays(
        lambda: (
            len(step_numbers(a, "wf-cancel")) <= len(ran) + 1
            and dbos_status(a, "wf-cancel") == "CANCELLED"
        ),
        for_s=4.0,
        message=f"wf-cancel stays CANCELLED with steps {ran}",
    )
    ran = step_numbers(a, "wf-cancel")
    assert len(ran) < 5, f"wf-cancel ran to its end before the cancel: {ran}"
    wait_captured(cluster, app, "wf-cancel", "CANCELLED")

    act_ok(cluster, app, "wf-cancel", "resume")
    wait_dbos_status(a, "wf-cancel", "SUCCESS")
    after = step_numbers(a, "wf-cancel")
    assert sorted(set(after)) == [1, 2, 3, 4, 5], after
    assert all(after.count(step) == 1 for step in ran[:-1]), (ran, after)
    wait_captured(cluster, app, "wf-cancel", "SUCCESS")


@pytest.mark.compat("fork")
def test_fork_from_a_step_runs_only_the_steps_from_there(fleet: ExecutorPool) -> None:
    cluster, app = fleet.cluster, fleet.app
    (a,) = fleet.start_connected(1)
    a.start_workflow("multi_step", "wf-fork", n=5, step_seconds=0.05)
    wait_dbos_status(a, "wf-fork", "SUCCESS")

    start_step = fleet.client.function_id_of_step(3)
    forked = act_ok(
        cluster, app, "wf-fork", "fork", {"start_step": start_step, "new_workflow_id": "wf-fork-3"}
    )
    assert forked["result"]["new_workflow_id"] == "wf-fork-3", forked
    wait_dbos_status(a, "wf-fork-3", "SUCCESS")
    assert step_numbers(a, "wf-fork-3") == [3, 4, 5]
    assert step_numbers(a, "wf-fork") == [1, 2, 3, 4, 5]
    assert a.forks_of("wf-fork") == ["wf-fork-3"]
    described = a.workflow_status("wf-fork-3")
    assert described is not None
    assert "ran 5 steps" in described["output"], described


@pytest.mark.compat("restart")
def test_restart_runs_every_step_of_a_finished_workflow_again(fleet: ExecutorPool) -> None:
    """Baton restarts by forking from step 0, before the first step of either SDK: from 1, a
    TypeScript workflow's first step (function id 0) would be reused, not run again."""
    cluster, app = fleet.cluster, fleet.app
    (a,) = fleet.start_connected(1)
    a.start_workflow("multi_step", "wf-restart", n=2, step_seconds=0.05)
    wait_captured(cluster, app, "wf-restart", "SUCCESS")

    new_id = act_ok(cluster, app, "wf-restart", "restart")["result"]["new_workflow_id"]
    wait_dbos_status(a, new_id, "SUCCESS")
    assert step_numbers(a, new_id) == [1, 2], "a restart runs every step again"
    assert a.forks_of("wf-restart") == [new_id]


@pytest.mark.compat("delete")
def test_delete_removes_a_workflow_from_the_executor_and_the_console(
    fleet: ExecutorPool,
) -> None:
    cluster, app = fleet.cluster, fleet.app
    (a,) = fleet.start_connected(1)
    a.start_workflow("quick", "wf-delete", x=4)
    wait_captured(cluster, app, "wf-delete", "SUCCESS")

    act_ok(cluster, app, "wf-delete", "delete")
    assert a.workflow_status("wf-delete") is None, "DBOS no longer knows wf-delete"
    assert_eventually(
        lambda: cluster.get(f"/api/v1/apps/{app}/workflows/wf-delete")[0] == 404,
        timeout_s=CAPTURE_TIMEOUT_S,
        message="the console no longer knows the deleted workflow",
    )


@pytest.mark.compat("bulk")
def test_a_bulk_cancel_cancels_the_enqueued_workflows_it_matches(fleet: ExecutorPool) -> None:
    cluster, app = fleet.cluster, fleet.app
    (a,) = fleet.start_connected(1)
    a.start_workflow("multi_step", "bulk-blocker", queue="serial", n=1, step_seconds=300)
    wait_dbos_status(a, "bulk-blocker", "PENDING")
    queued = [f"bulk-q{i}" for i in range(5)]
    for workflow_id in queued:
        a.start_workflow("quick", workflow_id, queue="serial", x=1)
    assert_eventually(
        lambda: (
            console_statuses(cluster, app, workflow_id_prefix="bulk-q", status="ENQUEUED")
            == dict.fromkeys(queued, "ENQUEUED")
        ),
        timeout_s=CAPTURE_TIMEOUT_S,
        message="the console lists the queued workflows as ENQUEUED",
    )

    status, started = cluster.post(
        f"/api/v1/apps/{app}/bulk",
        {"action": "cancel", "filter": {"status": ["ENQUEUED"], "workflow_id_prefix": "bulk-q"}},
    )
    assert status == 202, started
    job = assert_eventually(
        lambda: _finished_job(cluster, app, started["job_id"]),
        timeout_s=RUN_TIMEOUT_S,
        message="the bulk job finishes",
    )
    assert (job["state"], job["total"], job["succeeded"]) == ("succeeded", 5, 5), job
    assert {w: dbos_status(a, w) for w in queued} == dict.fromkeys(queued, "CANCELLED")
    assert dbos_status(a, "bulk-blocker") == "PENDING", "the filter left the blocker alone"
    a.cancel_workflow("bulk-blocker")


def _as_written(text: str) -> str:
    """``text`` with a JSON string's escapes undone: Go's encoding/json writes ``<`` as
    ``\\u003c`` (valid JSON for the same string); other SDKs' text is returned as it is."""
    try:
        decoded = json.loads(text)
    except ValueError:
        return text
    return decoded if isinstance(decoded, str) else text


def _workflows(cluster: BatonCluster, app: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = cluster.api(f"/api/v1/apps/{app}/workflows?limit=200")[
        "workflows"
    ]
    return listed


def _finished_job(cluster: BatonCluster, app: str, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = cluster.api(f"/api/v1/apps/{app}/bulk/{job_id}")
    assert job["state"] != "running", f"{job['done']} of {job['total']} done"
    return job
