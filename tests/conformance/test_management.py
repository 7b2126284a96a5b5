"""Operators manage real DBOS workflows through Baton (docs/management-design.md): cancel, resume,
restart, fork and delete one workflow, cancel many in a bulk job, read a workflow's events,
notifications and streams, drive a schedule; every action acts once per idempotency key (and once
per request record on the commands topic), is refused clearly without an executor, is audited, and
the audit log replays from its topic. The ``baton workflows`` and ``baton audit`` commands do the
same from a shell.

One cluster and one executor serve the module (each test uses its own workflow ids); only the
"no executor connected" test starts an app of its own.

DBOS step numbering: ``multi_step``'s step ``k`` is DBOS function_id ``k`` (the first step is 1, the
workflow does nothing else), and a fork from ``start_step=k`` copies the checkpoints of function ids
``< k`` and runs the workflow again from ``k``. Its marker file (named by the new workflow id)
therefore holds steps ``k..n`` only: steps ``1..k-1`` were not run again.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from runtime.clock import wall_ms
from streams.ids import AppName, ExecutorId, GatewayId, RequestId, WorkflowId
from streams.records import ExecutorReply, ExecutorRequest, RequestKind
from tests.baton_cluster import BatonCluster
from tests.conformance.scenario import ExecutorPool
from tests.console_access import TESTER_ACTOR
from tests.dbos_app.harness import (
    SCHEDULE_NAME,
    SCHEDULED_WORKFLOW,
    ExecutorProcess,
    create_database,
    drop_database,
    unique_database_name,
)
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance

CAPTURE_TIMEOUT_S = 30
RUN_TIMEOUT_S = 30


@pytest.fixture(scope="module")
def managed(
    cluster: BatonCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExecutorPool]:
    """The module's app: one connected executor (version ``v1``) on its own system database."""
    name = unique_database_name("baton_mgmt")
    url = create_database(name)
    pool = ExecutorPool(
        cluster, f"mgmt{uuid.uuid4().hex[:8]}", url, tmp_path_factory.mktemp("managed")
    )
    try:
        pool.start_connected(1)
        yield pool
    finally:
        pool.terminate_all()
        drop_database(name)


@pytest.fixture
def executor(managed: ExecutorPool) -> ExecutorProcess:
    return managed.started[0]


# -- helpers -----------------------------------------------------------------------------------


def act(
    cluster: BatonCluster,
    app: str,
    workflow_id: str,
    verb: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    return cluster.post(f"/api/v1/apps/{app}/workflows/{workflow_id}/{verb}", body, headers)


def act_ok(
    cluster: BatonCluster,
    app: str,
    workflow_id: str,
    verb: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An action that must succeed: 200 and outcome ``succeeded``; returns the action JSON."""
    status, answer = act(cluster, app, workflow_id, verb, body, headers)
    assert status == 200, f"{verb} {workflow_id}: HTTP {status}: {answer}"
    assert answer["outcome"] == "succeeded", answer
    assert answer["action"] == f"workflow.{verb}", answer
    assert answer["target"] == workflow_id, answer
    assert answer["app"] == app, answer
    assert answer["actor"] == TESTER_ACTOR, answer
    assert answer["requested_at"], answer
    assert answer["finished_at"], answer
    result: dict[str, Any] = answer
    return result


def dbos_status(executor: ExecutorProcess, workflow_id: str) -> str | None:
    described = executor.workflow_status(workflow_id)
    return None if described is None else str(described["status"])


def wait_dbos_status(
    executor: ExecutorProcess, workflow_id: str, status: str, timeout_s: float = RUN_TIMEOUT_S
) -> None:
    assert_eventually(
        lambda: dbos_status(executor, workflow_id) == status,
        timeout_s=timeout_s,
        message=f"DBOS says {workflow_id} is {status}",
    )


def step_numbers(executor: ExecutorProcess, workflow_id: str) -> list[int]:
    return [step for step, _ in executor.steps_of(workflow_id)]


def console_statuses(cluster: BatonCluster, app: str, **params: Any) -> dict[str, str]:
    query = urlencode({"limit": 200, **params}, doseq=True)
    listed = cluster.api(f"/api/v1/apps/{app}/workflows?{query}")["workflows"]
    return {w["workflow_id"]: w["status"] for w in listed}


def wait_captured(cluster: BatonCluster, app: str, workflow_id: str, status: str) -> None:
    """Wait until the console's store lists ``workflow_id`` with ``status``."""
    assert_eventually(
        lambda: (
            console_statuses(cluster, app, workflow_id_prefix=workflow_id).get(workflow_id)
            == status
        ),
        timeout_s=CAPTURE_TIMEOUT_S,
        message=f"the console lists {workflow_id} as {status}",
    )


def assert_stays(check: Callable[[], bool], *, for_s: float, message: str) -> None:
    """``check`` holds at every look during ``for_s`` seconds (the absence of an effect)."""
    deadline = time.monotonic() + for_s
    while True:
        assert check(), message
        if time.monotonic() >= deadline:
            return
        time.sleep(0.2)


def audit_entries(cluster: BatonCluster, **params: Any) -> list[dict[str, Any]]:
    page = cluster.api(f"/api/v1/audit?{urlencode(params)}")
    entries: list[dict[str, Any]] = page["entries"]
    return entries


def run_to_success(executor: ExecutorProcess, workflow_id: str, name: str, **params: Any) -> None:
    executor.start_workflow(name, workflow_id, **params)
    wait_dbos_status(executor, workflow_id, "SUCCESS")


# -- one workflow ------------------------------------------------------------------------------


def test_cancel_stops_a_running_workflow_and_resume_finishes_it(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    cluster, app = managed.cluster, managed.app
    executor.start_workflow("multi_step", "wf-cancel", n=5, step_seconds=1.5)
    assert_eventually(
        lambda: len(executor.steps_of("wf-cancel")) >= 2,
        timeout_s=RUN_TIMEOUT_S,
        message="wf-cancel is in its second step",
    )

    cancelled = act_ok(cluster, app, "wf-cancel", "cancel")
    assert cancelled["replayed"] is False
    assert cancelled["executor_id"] == executor.executor_id
    # DBOS checks for cancellation before each step: the step in flight may end, no other starts.
    ran = step_numbers(executor, "wf-cancel")
    assert dbos_status(executor, "wf-cancel") == "CANCELLED"
    assert_stays(
        lambda: (
            step_numbers(executor, "wf-cancel") == ran
            and dbos_status(executor, "wf-cancel") == "CANCELLED"
        ),
        for_s=4.0,
        message=f"wf-cancel stays CANCELLED with steps {ran}",
    )
    assert len(ran) < 5, f"wf-cancel ran to its end before the cancel: {ran}"

    act_ok(cluster, app, "wf-cancel", "resume")
    wait_dbos_status(executor, "wf-cancel", "SUCCESS")
    after = step_numbers(executor, "wf-cancel")
    assert sorted(set(after)) == [1, 2, 3, 4, 5], after
    finished_before = ran[:-1]  # checkpointed before the cancel: never run again
    assert all(after.count(step) == 1 for step in finished_before), (ran, after)


def test_restart_runs_a_finished_workflow_again_as_a_new_one(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    cluster, app = managed.cluster, managed.app
    run_to_success(executor, "wf-restart", "multi_step", n=2, step_seconds=0.05)
    wait_captured(cluster, app, "wf-restart", "SUCCESS")

    restarted = act_ok(cluster, app, "wf-restart", "restart")
    new_id = restarted["result"]["new_workflow_id"]
    assert new_id, restarted
    assert new_id != "wf-restart", restarted
    wait_dbos_status(executor, new_id, "SUCCESS")
    assert step_numbers(executor, new_id) == [1, 2], "a restart runs every step again"
    assert step_numbers(executor, "wf-restart") == [1, 2], "the original is left alone"
    assert executor.forks_of("wf-restart") == [new_id]


def test_fork_from_step_3_does_not_run_steps_1_and_2_again(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    cluster, app = managed.cluster, managed.app
    run_to_success(executor, "wf-fork", "multi_step", n=5, step_seconds=0.05)

    forked = act_ok(
        cluster, app, "wf-fork", "fork", {"start_step": 3, "new_workflow_id": "wf-fork-from-3"}
    )
    assert forked["result"]["new_workflow_id"] == "wf-fork-from-3", forked
    assert forked["params"]["start_step"] == 3, forked
    wait_dbos_status(executor, "wf-fork-from-3", "SUCCESS")
    # Function ids 1 and 2 were copied from wf-fork's checkpoints; 3 to 5 ran again.
    assert step_numbers(executor, "wf-fork-from-3") == [3, 4, 5]
    assert step_numbers(executor, "wf-fork") == [1, 2, 3, 4, 5]
    described = executor.workflow_status("wf-fork-from-3")
    assert described is not None
    assert "ran 5 steps" in described["output"], "the copied steps' outputs are part of the result"


def test_delete_removes_the_workflow_from_the_executor(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    cluster, app = managed.cluster, managed.app
    run_to_success(executor, "wf-delete", "quick", x=4)
    wait_captured(cluster, app, "wf-delete", "SUCCESS")

    act_ok(cluster, app, "wf-delete", "delete")
    assert executor.workflow_status("wf-delete") is None, "DBOS no longer knows wf-delete"
    # The deletion travels the workflow events topic: the worker's store forgets it too.
    assert_eventually(
        lambda: cluster.get(f"/api/v1/apps/{app}/workflows/wf-delete")[0] == 404,
        timeout_s=CAPTURE_TIMEOUT_S,
        message="the console no longer knows the deleted workflow",
    )
    assert "wf-delete" not in console_statuses(cluster, app, workflow_id_prefix="wf-delete")


# -- many workflows ----------------------------------------------------------------------------


def test_bulk_cancel_by_filter_of_enqueued_workflows(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    cluster, app = managed.cluster, managed.app
    # `serial` runs one workflow at a time: behind a long one, the next 20 stay ENQUEUED.
    executor.start_workflow("multi_step", "bulk-blocker", queue="serial", n=1, step_seconds=300)
    wait_dbos_status(executor, "bulk-blocker", "PENDING")
    queued = [f"bulk-q{i:02d}" for i in range(20)]
    for workflow_id in queued:
        executor.start_workflow("quick", workflow_id, queue="serial", x=1)
    assert_eventually(
        lambda: (
            console_statuses(cluster, app, workflow_id_prefix="bulk-q", status="ENQUEUED")
            == dict.fromkeys(queued, "ENQUEUED")
        ),
        timeout_s=CAPTURE_TIMEOUT_S,
        message="the console lists the 20 queued workflows as ENQUEUED",
    )
    request = {
        "action": "cancel",
        "filter": {"status": ["ENQUEUED"], "queue": "serial", "workflow_id_prefix": "bulk-q"},
    }
    bulk_path = f"/api/v1/apps/{app}/bulk"

    status, preview = cluster.post(bulk_path, {**request, "dry_run": True})
    assert status == 200, preview
    assert preview["dry_run"] is True
    assert preview["matched"] == 20, preview
    assert set(preview["sample"]) <= set(queued), preview
    assert all(dbos_status(executor, w) == "ENQUEUED" for w in queued), "a dry run acts on none"

    status, started = cluster.post(bulk_path, request)
    assert status == 202, started
    job_id = started["job_id"]
    job = assert_eventually(
        lambda: _finished_job(cluster, app, job_id),
        timeout_s=RUN_TIMEOUT_S,
        message=f"bulk job {job_id} finishes",
    )
    assert job["state"] == "succeeded", job
    assert (job["total"], job["succeeded"], job["failed"]) == (20, 20, 0), job
    assert {item["workflow_id"]: item["outcome"] for item in job["items"]} == dict.fromkeys(
        queued, "succeeded"
    )
    assert {w: dbos_status(executor, w) for w in queued} == dict.fromkeys(queued, "CANCELLED")
    assert dbos_status(executor, "bulk-blocker") == "PENDING", "the filter left the blocker alone"
    history = cluster.api(bulk_path)
    jobs = history["jobs"] if isinstance(history, dict) else history
    history_ids = [j["job_id"] for j in jobs]
    assert job_id in history_ids, history
    assert any(
        e["action"] == "bulk.cancel" and e["target"] == job_id
        for e in audit_entries(cluster, app=app, action="bulk.cancel")
    ), "the bulk job is audited"
    executor.cancel_workflow("bulk-blocker")


def _finished_job(cluster: BatonCluster, app: str, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = cluster.api(f"/api/v1/apps/{app}/bulk/{job_id}")
    assert job["state"] != "running", f"{job['done']} of {job['total']} done"
    return job


# -- refusals and idempotency ------------------------------------------------------------------


def test_an_action_without_a_connected_executor_is_refused_and_audited(
    pool: ExecutorPool,
) -> None:
    """The app's only executor left: 503 naming the app (API and CLI), audited as rejected."""
    cluster, app = pool.cluster, pool.app
    (lonely,) = pool.start_connected(1)
    run_to_success(lonely, "wf-lonely", "quick", x=1)
    wait_captured(cluster, app, "wf-lonely", "SUCCESS")
    lonely.terminate()
    assert_eventually(
        lambda: all(e["state"] != "connected" for e in cluster.executors(app).values()),
        timeout_s=30,
        message="the app has no connected executor",
    )

    status, refused = act(cluster, app, "wf-lonely", "cancel")
    assert status == 503, refused
    assert app in refused["error"], refused
    assert "connected" in refused["error"], refused
    assert refused["action"]["outcome"] == "rejected", refused

    cli = cluster.baton("workflows", "cancel", app, "wf-lonely", "--console", cluster.console_url)
    assert cli.returncode != 0, cli.stdout
    assert app in cli.stderr, cli.stderr

    entries = audit_entries(cluster, app=app, target="wf-lonely")
    assert [e["outcome"] for e in entries] == ["rejected", "rejected"], entries
    assert {e["action"] for e in entries} == {"workflow.cancel"}
    assert all(app in (e["detail"] or "") for e in entries), entries


def test_the_same_idempotency_key_acts_once(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    cluster, app = managed.cluster, managed.app
    run_to_success(executor, "wf-idem", "multi_step", n=3, step_seconds=0.05)
    key = f"idem-{uuid.uuid4().hex}"
    headers = {"Idempotency-Key": key}

    first = act_ok(cluster, app, "wf-idem", "fork", {"start_step": 2}, headers)
    second = act_ok(cluster, app, "wf-idem", "fork", {"start_step": 2}, headers)
    assert first["replayed"] is False
    assert second["replayed"] is True
    assert second["action_id"] == first["action_id"] == key
    new_id = first["result"]["new_workflow_id"]
    assert second["result"]["new_workflow_id"] == new_id
    wait_dbos_status(executor, new_id, "SUCCESS")
    assert executor.forks_of("wf-idem") == [new_id], "one fork only"
    assert step_numbers(executor, new_id) == [2, 3]

    status, reused = act(cluster, app, "wf-idem", "cancel", headers=headers)
    assert status == 409, reused
    assert "Idempotency-Key" in reused["error"], reused
    audited = [
        e
        for e in audit_entries(cluster, app=app, target="wf-idem")
        if e["record"]["action_id"] == key
    ]
    assert len(audited) == 1, audited


def test_a_request_record_delivered_twice_acts_once(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    """The same ExecutorRequest (a fork) twice on the commands topic: one workflow, one reply."""
    cluster, app = managed.cluster, managed.app
    run_to_success(executor, "wf-dup", "multi_step", n=2, step_seconds=0.05)
    gateway = cluster.executors(app)[executor.executor_id]["gateway"]
    request = ExecutorRequest(
        request_id=RequestId(f"dup-{uuid.uuid4().hex}#0"),
        app=AppName(app),
        target=ExecutorId(executor.executor_id),
        target_gateway=GatewayId(gateway),
        kind=RequestKind.FORK,
        workflow_id=WorkflowId("wf-dup"),
        issued_at_ms=wall_ms(),
        timeout_ms=10_000,
        params={"start_step": 1, "new_workflow_id": "wf-dup-fork"},
    )
    cluster.publish("commands", request, copies=2)

    wait_dbos_status(executor, "wf-dup-fork", "SUCCESS")
    assert_eventually(
        lambda: len(_replies_to(cluster, app, request.request_id)) == 1,
        timeout_s=RUN_TIMEOUT_S,
        message="the gateway replied",
    )
    assert_stays(
        lambda: len(_replies_to(cluster, app, request.request_id)) == 1,
        for_s=2.0,
        message="no second reply",
    )
    (reply,) = _replies_to(cluster, app, request.request_id)
    assert reply.ok, reply
    assert reply.result == {"new_workflow_id": "wf-dup-fork"}, reply
    assert executor.forks_of("wf-dup") == ["wf-dup-fork"]
    assert step_numbers(executor, "wf-dup-fork") == [1, 2]


def _replies_to(cluster: BatonCluster, app: str, request_id: str) -> list[ExecutorReply]:
    return [
        r
        for r in cluster.topic_records("replies", app)
        if isinstance(r, ExecutorReply) and r.request_id == request_id
    ]


# -- communication and schedules ---------------------------------------------------------------


def test_a_workflows_events_notifications_and_streams_are_read_live(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    cluster, app = managed.cluster, managed.app
    base = f"/api/v1/apps/{app}/workflows/wf-chatty"
    executor.start_workflow("chatty", "wf-chatty", topic="greeting", timeout_s=60)
    assert_eventually(
        lambda: executor.events_of("wf-chatty").get("stage") == "waiting",
        timeout_s=RUN_TIMEOUT_S,
        message="wf-chatty waits for its greeting",
    )
    assert _events(cluster, base) == {"stage": "waiting"}

    executor.send_notification("wf-chatty", "not for you", topic="elsewhere")
    executor.send_notification("wf-chatty", "hello", topic="greeting")
    wait_dbos_status(executor, "wf-chatty", "SUCCESS")

    assert _events(cluster, base) == {"stage": "done", "received": "hello"}
    notifications = cluster.api(f"{base}/notifications")["notifications"]
    seen = {(n["topic"], n["message"], n["consumed"]) for n in notifications}
    assert seen == {("elsewhere", "not for you", False), ("greeting", "hello", True)}, seen
    assert all(isinstance(n["created_at_ms"], int) for n in notifications), notifications
    streams = cluster.api(f"{base}/streams")["streams"]
    assert streams == [{"key": "log", "values": ["started", "got hello"]}], streams


def _events(cluster: BatonCluster, base: str) -> dict[str, str]:
    return {e["key"]: e["value"] for e in cluster.api(f"{base}/events")["events"]}


def test_a_schedule_is_listed_paused_resumed_and_triggered(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    cluster, app = managed.cluster, managed.app
    path = f"/api/v1/apps/{app}/schedules"
    (listed,) = cluster.api(path)["schedules"]
    assert listed["schedule_name"] == SCHEDULE_NAME, listed
    assert listed["workflow_name"] == SCHEDULED_WORKFLOW, listed
    assert listed["status"] == "ACTIVE", listed

    for verb, status_after in (("pause", "PAUSED"), ("resume", "ACTIVE")):
        status, answer = cluster.post(f"{path}/{SCHEDULE_NAME}/{verb}", {})
        assert status == 200, answer
        assert answer["outcome"] == "succeeded", answer
        assert answer["action"] == f"schedule.{verb}", answer
        assert [s["status"] for s in executor.schedules()] == [status_after]
        assert [s["status"] for s in cluster.api(path)["schedules"]] == [status_after]

    status, triggered = cluster.post(f"{path}/{SCHEDULE_NAME}/trigger", {})
    assert status == 200, triggered
    fired = triggered["result"]["workflow_id"]
    assert fired, triggered
    wait_dbos_status(executor, fired, "SUCCESS")
    assert step_numbers(executor, fired) == [1], "the scheduled workflow ran its one step"


# -- audit -------------------------------------------------------------------------------------


def test_actions_are_audited_and_the_audit_log_replays(
    managed: ExecutorPool, executor: ExecutorProcess, tmp_path: Path
) -> None:
    cluster, app = managed.cluster, managed.app
    run_to_success(executor, "wf-audit", "quick", x=5)
    forked = act_ok(cluster, app, "wf-audit", "fork", {"start_step": 1})
    fork_id = forked["result"]["new_workflow_id"]
    wait_dbos_status(executor, fork_id, "SUCCESS")
    act_ok(cluster, app, fork_id, "delete")

    entries = audit_entries(cluster, app=app, limit=500)
    mine = [e for e in entries if e["target"] in ("wf-audit", fork_id)]
    assert [(e["action"], e["target"], e["outcome"]) for e in mine] == [
        ("workflow.delete", fork_id, "succeeded"),  # newest first
        ("workflow.fork", "wf-audit", "succeeded"),
    ], mine
    for entry in mine:
        assert entry["actor"] == TESTER_ACTOR, entry
        assert entry["app"] == app, entry
        assert entry["ts"].endswith("Z"), entry
        record = entry["record"]
        assert record["requested_at_ms"] <= record["finished_at_ms"], record
        assert record["executor_id"] == executor.executor_id, record
    assert mine[1]["record"]["result"] == {"new_workflow_id": fork_id}
    only_forks = audit_entries(cluster, app=app, action="workflow.fork", target="wf-audit")
    assert [e["target"] for e in only_forks] == ["wf-audit"], only_forks

    replayed = tmp_path / "replayed.db"
    result = cluster.baton(
        "replay",
        "--kafka",
        cluster.kafka_bootstrap,
        "--database-url",
        f"sqlite+aiosqlite:///{replayed}",
        timeout_s=120,
    )
    assert result.returncode == 0, result.stderr
    live_rows = _action_rows(Path(cluster.database_url.split("///", 1)[1]), app)
    assert len(live_rows) >= 2, live_rows
    assert _action_rows(replayed, app) == live_rows


def _action_rows(path: Path, app: str) -> list[tuple[Any, ...]]:
    """The store's audit rows of ``app``'s operator actions (event key ``action/{app}/...``),
    without the row id (an insertion counter)."""
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(audit_log)") if row[1] != "id"]
        return db.execute(
            f"SELECT {', '.join(columns)} FROM audit_log WHERE event_key LIKE ? ORDER BY event_key",
            (f"action/{app}/%",),
        ).fetchall()


# -- command line ------------------------------------------------------------------------------


def test_the_cli_cancels_a_workflow_and_prints_the_audit_log(
    managed: ExecutorPool, executor: ExecutorProcess
) -> None:
    cluster, app = managed.cluster, managed.app
    executor.start_workflow("multi_step", "wf-cli", n=3, step_seconds=5)
    wait_dbos_status(executor, "wf-cli", "PENDING")

    cancelled = cluster.baton(
        "workflows", "cancel", app, "wf-cli", "--console", cluster.console_url
    )
    assert cancelled.returncode == 0, cancelled.stderr
    assert "succeeded" in cancelled.stdout, cancelled.stdout
    assert dbos_status(executor, "wf-cli") == "CANCELLED"

    audit = cluster.baton("audit", "--app", app, "--console", cluster.console_url)
    assert audit.returncode == 0, audit.stderr
    lines = [line for line in audit.stdout.splitlines() if "wf-cli" in line]
    assert lines, audit.stdout
    assert "workflow.cancel" in lines[0], lines
    assert "succeeded" in lines[0], lines
