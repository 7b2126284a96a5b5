"""Real DBOS executors (dbos==2.31.1, subprocesses) against Baton's worker, gateway and console
processes on the embedded broker: connection, crash recovery, version matching, keys."""

from __future__ import annotations

import time

import pytest

from streams.records import RecoveryDecision, RecoveryStep
from tests.baton_cluster import BatonCluster
from tests.conformance.conftest import ExecutorFactory
from tests.dbos_app.harness import read_workflow, recorded_step_ids
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance


def connected(cluster: BatonCluster, app: str, *executor_ids: str) -> dict[str, dict[str, object]]:
    rows = cluster.executors(app)
    for executor_id in executor_ids:
        assert rows.get(executor_id, {}).get("state") == "connected", rows.get(executor_id)
    return rows


def steps_of(cluster: BatonCluster, app: str, executor_id: str) -> list[RecoveryStep]:
    return [
        r.step
        for r in cluster.audit_records(app)
        if isinstance(r, RecoveryDecision) and r.dead_executor_id == executor_id
    ]


def test_executors_appear_with_their_executor_info(
    cluster: BatonCluster, executors: ExecutorFactory, app_name: str
) -> None:
    a = executors("v1")
    b = executors("v2")

    rows = assert_eventually(
        lambda: connected(cluster, app_name, a.executor_id, b.executor_id),
        timeout_s=20,
        message="both executors listed as connected",
    )
    row = rows[a.executor_id]
    assert row["application_version"] == "v1"
    assert rows[b.executor_id]["application_version"] == "v2"
    assert row["language"] == "python"
    assert row["dbos_version"] == "2.31.1"
    assert row["hostname"]
    assert row["gateway"]
    assert str(row["last_seen"]).endswith("Z")
    table = cluster.cli("executors", app_name)
    assert a.executor_id in table
    assert b.executor_id in table
    assert "connected" in table


def test_killed_executor_workflow_finishes_on_survivor_without_rerunning_steps(
    cluster: BatonCluster, executors: ExecutorFactory, app_name: str, system_db: str
) -> None:
    a = executors("v1")
    b = executors("v1")
    assert_eventually(
        lambda: connected(cluster, app_name, a.executor_id, b.executor_id),
        timeout_s=20,
        message="executors connected",
    )
    a.start_workflow("multi_step", "wf-crash", n=6, step_seconds=0.7)
    assert_eventually(
        lambda: len(recorded_step_ids(system_db, "wf-crash")) >= 2,
        timeout_s=20,
        message="two steps checkpointed on A",
    )
    a.kill()
    checkpointed = len(recorded_step_ids(system_db, "wf-crash"))

    final = assert_eventually(
        lambda: (row := read_workflow(system_db, "wf-crash")) and row.status == "SUCCESS" and row,
        timeout_s=60,
        message="wf-crash SUCCESS after A's death",
    )
    assert final.executor_id == b.executor_id
    steps = a.steps_of("wf-crash")
    for step_no in range(1, checkpointed + 1):
        runs = [executor for number, executor in steps if number == step_no]
        assert runs == [a.executor_id], f"checkpointed step {step_no} re-run: {runs}"
    assert {number for number, _ in steps} == set(range(1, 7))

    audit = steps_of(cluster, app_name, a.executor_id)
    for expected in (
        RecoveryStep.DECLARED_DEAD,
        RecoveryStep.TARGET_CHOSEN,
        RecoveryStep.SENT,
        RecoveryStep.SUCCEEDED,
    ):
        assert expected in audit, audit
    recovery = assert_eventually(
        lambda: [r for r in cluster.recoveries(app_name) if r["state"] == "succeeded"],
        timeout_s=10,
        message="recovery listed as succeeded",
    )[0]
    assert recovery["dead_executor_id"] == a.executor_id
    assert recovery["target"] == b.executor_id
    assert recovery["reason"]
    states = cluster.executors(app_name)
    assert states[a.executor_id]["state"] == "recovered"
    assert states[b.executor_id]["state"] == "connected"


def test_survivor_of_another_version_is_never_chosen_and_recovery_waits(
    cluster: BatonCluster, executors: ExecutorFactory, app_name: str, system_db: str
) -> None:
    a = executors("v1")
    other = executors("v2")
    assert_eventually(
        lambda: connected(cluster, app_name, a.executor_id, other.executor_id),
        timeout_s=20,
        message="executors connected",
    )
    a.start_workflow("multi_step", "wf-version", n=4, step_seconds=0.5)
    assert_eventually(
        lambda: recorded_step_ids(system_db, "wf-version"),
        timeout_s=20,
        message="a step checkpointed on A",
    )
    a.kill()

    assert_eventually(
        lambda: RecoveryStep.STRANDED in steps_of(cluster, app_name, a.executor_id),
        timeout_s=20,
        message="stranded decision audited",
    )
    assert_eventually(
        lambda: [r for r in cluster.recoveries(app_name) if r["state"] == "stranded"],
        timeout_s=10,
        message="recovery listed as stranded",
    )
    time.sleep(2)  # a window in which a wrong choice would show up
    row = read_workflow(system_db, "wf-version")
    assert row is not None
    assert row.status == "PENDING"
    assert row.executor_id == a.executor_id
    chosen = [
        r
        for r in cluster.audit_records(app_name)
        if isinstance(r, RecoveryDecision) and r.step is RecoveryStep.TARGET_CHOSEN
    ]
    assert chosen == []

    c = executors("v1")
    final = assert_eventually(
        lambda: (row := read_workflow(system_db, "wf-version")) and row.status == "SUCCESS" and row,
        timeout_s=60,
        message="wf-version SUCCESS once a v1 executor connected",
    )
    assert final.executor_id == c.executor_id
    targets = {
        r.target
        for r in cluster.audit_records(app_name)
        if isinstance(r, RecoveryDecision) and r.step is RecoveryStep.TARGET_CHOSEN
    }
    assert targets == {c.executor_id}


def test_revoked_key_closes_sessions_and_wrong_key_never_connects(
    cluster: BatonCluster, executors: ExecutorFactory, app_name: str
) -> None:
    a = executors("v1")
    intruder = executors("v1", conductor_key="bk_000000000000_not-a-real-key")
    assert_eventually(
        lambda: connected(cluster, app_name, a.executor_id),
        timeout_s=20,
        message="executor with a valid key connected",
    )
    key_id = cluster.cli("keys", "list", app_name).splitlines()[1].split()[0]
    cluster.cli("keys", "revoke", app_name, key_id)

    assert_eventually(
        lambda: cluster.executors(app_name)[a.executor_id]["state"] != "connected",
        timeout_s=15,
        message="revoked executor no longer connected",
    )
    time.sleep(5)  # past the grace period; the DBOS client retries every second, refused
    rows = cluster.executors(app_name)
    # Locked out, not dead: its process still runs workflows, so it is never recovered.
    assert rows[a.executor_id]["state"] == "disconnected"
    assert rows[a.executor_id]["close_code"] == 1008
    assert steps_of(cluster, app_name, a.executor_id) == []
    assert intruder.executor_id not in rows
    listing = cluster.cli("keys", "list", app_name)
    revoked_row = next(line for line in listing.splitlines() if line.startswith(key_id))
    assert len(revoked_row.split()) >= 3, f"revocation time missing: {revoked_row!r}"


@pytest.mark.parametrize(
    ("frame", "close_code"),
    [
        ("this is not json", 1007),
        (b"\x00\x01binary", 1003),
        ('{"type": "no_such_type", "request_id": "1"}', 1008),
        ('{"type": "executor_info"}', 1002),
        ("x" * (65 * 1024 * 1024), 1009),
    ],
    ids=["non-json", "binary", "unknown-type", "no-request-id", "oversized"],
)
def test_bad_frames_from_a_raw_client_close_only_that_session(
    cluster: BatonCluster,
    executors: ExecutorFactory,
    app_name: str,
    frame: str | bytes,
    close_code: int,
) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    real = executors("v1")
    before = assert_eventually(
        lambda: connected(cluster, app_name, real.executor_id),
        timeout_s=20,
        message="the real executor connected",
    )[real.executor_id]
    key = cluster.create_key(app_name)
    url = f"{cluster.conductor_url}/websocket/{app_name}/{key}"
    with connect(url, max_size=None, open_timeout=10) as raw:
        request = raw.recv(timeout=10)  # the gateway asks executor_info first
        assert '"executor_info"' in str(request)
        raw.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            raw.recv(timeout=15)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == close_code

    time.sleep(1)
    after = connected(cluster, app_name, real.executor_id)[real.executor_id]
    assert after["connected_at"] == before["connected_at"]  # never dropped
    assert steps_of(cluster, app_name, real.executor_id) == []
