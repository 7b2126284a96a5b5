"""Real DBOS executors (dbos==2.31.1, subprocesses) against Baton's worker, gateway and console
processes on the embedded broker: connection, crash recovery, version matching, keys, bad input."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from streams.records import RecoveryStep
from tests.conformance.scenario import (
    ExecutorPool,
    assert_checkpointed_steps_kept,
    crash_mid_workflow,
)
from tests.dbos_app.harness import read_workflow
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance


@pytest.mark.compat("connect")
def test_executors_appear_with_their_executor_info(pool: ExecutorPool) -> None:
    a = pool.start("v1")
    b = pool.start("v2")

    rows = pool.wait_connected(a, b)
    row = rows[a.executor_id]
    assert row["application_version"] == "v1"
    assert rows[b.executor_id]["application_version"] == "v2"
    assert row["language"] == "python"
    assert row["dbos_version"] == "2.31.1"
    assert row["hostname"]
    assert row["gateway"]
    assert str(row["last_seen"]).endswith("Z")
    table = pool.cluster.cli("executors", pool.app)
    assert a.executor_id in table
    assert b.executor_id in table
    assert "connected" in table


def test_a_connected_executors_last_seen_follows_its_gateway(pool: ExecutorPool) -> None:
    """An idle executor's row is written at its connect only; its last seen still moves, read
    from its pod's clock (``gateway_heard``, written every 10 s), and stays after its connect."""
    a = pool.start("v1")
    row = pool.wait_connected(a)[a.executor_id]
    first_seen = _moment(row["last_seen"])

    def seen_later() -> datetime:
        later = pool.cluster.executors(pool.app)[a.executor_id]
        assert later["state"] == "connected", later
        seen = _moment(later["last_seen"])
        assert seen >= first_seen + timedelta(seconds=10), (seen, first_seen)
        return seen

    seen = assert_eventually(seen_later, timeout_s=40, message="last seen moves with the pod")
    assert seen > _moment(row["connected_at"])


def _moment(iso: object) -> datetime:
    """An API time (ISO 8601, ``Z``) as an aware datetime."""
    return datetime.fromisoformat(str(iso).replace("Z", "+00:00"))


@pytest.mark.compat("recovery")
def test_killed_executor_workflow_finishes_on_survivor_without_rerunning_steps(
    pool: ExecutorPool, system_db: str
) -> None:
    a, b = pool.start_connected(2)
    checkpointed = crash_mid_workflow(a, system_db, "wf-crash", n=6, step_s=0.7)

    final = pool.wait_success("wf-crash")
    assert final.executor_id == b.executor_id
    steps = assert_checkpointed_steps_kept(a, "wf-crash", checkpointed)
    assert {number for number, _ in steps} == set(range(1, 7))

    audited = [d.step for d in pool.decisions() if d.dead_executor_id == a.executor_id]
    for expected in (
        RecoveryStep.DECLARED_DEAD,
        RecoveryStep.TARGET_CHOSEN,
        RecoveryStep.SENT,
        RecoveryStep.SUCCEEDED,
    ):
        assert expected in audited, audited
    recovery = assert_eventually(
        lambda: [r for r in pool.cluster.recoveries(pool.app) if r["state"] == "succeeded"],
        timeout_s=10,
        message="recovery listed as succeeded",
    )[0]
    assert recovery["dead_executor_id"] == a.executor_id
    assert recovery["target"] == b.executor_id
    assert recovery["reason"]
    states = pool.cluster.executors(pool.app)
    assert states[a.executor_id]["state"] == "recovered"
    assert states[b.executor_id]["state"] == "connected"
    (sent,) = [d for d in pool.decisions(RecoveryStep.SENT) if d.dead_executor_id == a.executor_id]
    assert sent.command_id is not None
    assert_logs_follow_the_executor(pool, a.executor_id, sent.command_id)


def assert_logs_follow_the_executor(pool: ExecutorPool, executor_id: str, command_id: str) -> None:
    """An operator follows one executor across the roles' JSON logs by its ``executor_id``, from
    its connect to its recovery, and from the worker's decision to the gateway's delivery by the
    ``command_id``; every such line names the app."""
    lines = [
        record
        for role in ("gateway", "worker")
        for record in json_log_records(pool.cluster.roles[role].log_text())
        if record.get("executor_id") == executor_id
    ]
    assert all(record.get("app") == pool.app for record in lines), lines
    by_role = {
        role: [r["event"] for r in lines if r["role"] == role] for role in ("gateway", "worker")
    }
    assert any(f"executor {executor_id} connected" in e for e in by_role["gateway"]), by_role
    assert any(f"executor {executor_id} disconnected" in e for e in by_role["gateway"]), by_role
    assert any(f"recovery of {executor_id}: declared_dead" in e for e in by_role["worker"]), by_role
    sent = [r for r in lines if r["role"] == "worker" and r.get("command_id") == command_id]
    asked = [r for r in lines if r["role"] == "gateway" and r.get("command_id") == command_id]
    assert sent, lines
    assert asked, lines


def json_log_records(text: str) -> list[dict[str, Any]]:
    """The JSON records of a role's log (a role logs JSON lines when stderr is not a terminal)."""
    return [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_survivor_of_another_version_is_never_chosen_and_recovery_waits(
    pool: ExecutorPool, system_db: str
) -> None:
    a = pool.start("v1")
    other = pool.start("v2")
    pool.wait_connected(a, other)
    pool.run(a, "wf-version", n=4, step_s=0.5)
    a.kill()

    assert_eventually(
        lambda: pool.decisions(RecoveryStep.STRANDED),
        timeout_s=20,
        message="stranded decision audited",
    )
    assert_eventually(
        lambda: [r for r in pool.cluster.recoveries(pool.app) if r["state"] == "stranded"],
        timeout_s=10,
        message="recovery listed as stranded",
    )
    time.sleep(2)  # a window in which a wrong choice would show up
    row = read_workflow(system_db, "wf-version")
    assert row is not None
    assert row.status == "PENDING"
    assert row.executor_id == a.executor_id
    assert pool.decisions(RecoveryStep.TARGET_CHOSEN) == []

    c = pool.start("v1")
    final = pool.wait_success("wf-version")
    assert final.executor_id == c.executor_id
    assert {d.target for d in pool.decisions(RecoveryStep.TARGET_CHOSEN)} == {c.executor_id}


def test_revoked_key_closes_sessions_and_wrong_key_never_connects(pool: ExecutorPool) -> None:
    a = pool.start("v1")
    intruder = pool.start("v1", conductor_key="bk_000000000000_not-a-real-key")
    pool.wait_connected(a)
    key_id = pool.cluster.cli("keys", "list", pool.app).splitlines()[1].split()[0]
    pool.cluster.cli("keys", "revoke", pool.app, key_id)

    assert_eventually(
        lambda: pool.cluster.executors(pool.app)[a.executor_id]["state"] != "connected",
        timeout_s=15,
        message="revoked executor no longer connected",
    )
    time.sleep(5)  # past the grace period; the DBOS client retries every second, refused
    rows = pool.cluster.executors(pool.app)
    # Locked out, not dead: its process still runs workflows, so it is never recovered.
    assert rows[a.executor_id]["state"] == "disconnected"
    assert rows[a.executor_id]["close_code"] == 1008
    assert pool.decisions() == []
    assert intruder.executor_id not in rows
    listing = pool.cluster.cli("keys", "list", pool.app)
    revoked_row = next(line for line in listing.splitlines() if line.startswith(key_id))
    assert len(revoked_row.split()) >= 3, f"revocation time missing: {revoked_row!r}"


@pytest.mark.parametrize(
    ("frame", "close_code"),
    [
        ("this is not json", 1007),
        (b"\x00\x01binary", 1003),
        ('{"type": "executor_info"}', 1002),
        ("x" * (65 * 1024 * 1024), 1009),
    ],
    ids=["non-json", "binary", "no-request-id", "oversized"],
)
def test_bad_frames_from_a_raw_client_close_only_that_session(
    pool: ExecutorPool, frame: str | bytes, close_code: int
) -> None:
    real = pool.start("v1")
    before = pool.wait_connected(real)[real.executor_id]
    key = pool.cluster.create_key(pool.app)
    url = f"{pool.cluster.conductor_url}/websocket/{pool.app}/{key}"
    with connect(url, max_size=None, open_timeout=10) as raw:
        request = raw.recv(timeout=10)  # the gateway asks executor_info first
        assert '"executor_info"' in str(request)
        raw.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            raw.recv(timeout=15)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == close_code

    time.sleep(1)
    after = pool.wait_connected(real)[real.executor_id]
    assert after["connected_at"] == before["connected_at"]  # never dropped
    assert pool.decisions() == []


def test_an_unknown_message_type_gets_an_error_reply_and_changes_nothing(
    pool: ExecutorPool,
) -> None:
    """A well-formed frame of a type the gateway does not know is answered with a DBOS-shaped
    error (same type and request id) and the raw session stays open; the real executor of the
    app is untouched."""
    real = pool.start("v1")
    before = pool.wait_connected(real)[real.executor_id]
    key = pool.cluster.create_key(pool.app)
    url = f"{pool.cluster.conductor_url}/websocket/{pool.app}/{key}"
    with connect(url, max_size=None, open_timeout=10) as raw:
        request = raw.recv(timeout=10)  # the gateway asks executor_info first
        assert '"executor_info"' in str(request)
        raw.send('{"type": "no_such_type", "request_id": "r-1"}')
        answer = orjson.loads(raw.recv(timeout=15))
        assert answer["type"] == "no_such_type"
        assert answer["request_id"] == "r-1"
        assert "unknown message type" in answer["error_message"]
        raw.ping().wait(timeout=10)  # still open after the error reply

    time.sleep(1)
    after = pool.wait_connected(real)[real.executor_id]
    assert after["connected_at"] == before["connected_at"]  # never dropped
    assert pool.decisions() == []


def test_a_frozen_executor_is_detected_by_pings_and_recovered(pool: ExecutorPool) -> None:
    """SIGSTOP: the TCP link stays up but nothing answers. The gateway's pings (every 5 s,
    10 s timeout) close the session within 15 s; after the grace period it is recovered."""
    a, b = pool.start_connected(2)
    pool.run(a, "wf-frozen", n=6, step_s=0.5)
    a.freeze()
    frozen_at = time.monotonic()
    try:
        disconnected = assert_eventually(
            lambda: (
                (row := pool.cluster.executors(pool.app)[a.executor_id])["state"] != "connected"
                and row
            ),
            timeout_s=30,
            message="the frozen executor's session closed",
        )
        detected_s = time.monotonic() - frozen_at
        # 15 s at the gateway, plus the trip through Kafka, the worker and the store.
        assert detected_s <= 18, f"detected after {detected_s:.1f} s"
        assert disconnected["close_code"] == 1011  # keepalive ping timeout
        assert pool.wait_success("wf-frozen").executor_id == b.executor_id
    finally:
        a.kill()


def test_a_target_that_hangs_is_given_up_and_another_executor_recovers(
    pool: ExecutorPool,
) -> None:
    """The first choice (the longest-connected survivor) is frozen: its request goes unanswered,
    pings close its session, and the recovery is retried on the other survivor."""
    hung = pool.start("v1")
    pool.wait_connected(hung)
    a, c = pool.start("v1"), pool.start("v1")
    pool.wait_connected(hung, a, c)
    pool.run(a, "wf-retry", n=5, step_s=0.5)
    hung.freeze()
    try:
        a.kill()
        assert pool.wait_success("wf-retry", timeout_s=90).executor_id == c.executor_id
        chosen = [
            (d.attempt, d.target)
            for d in pool.decisions(RecoveryStep.TARGET_CHOSEN)
            if d.dead_executor_id == a.executor_id
        ]
        assert chosen == [(1, hung.executor_id), (2, c.executor_id)]
        failed = [
            d for d in pool.decisions(RecoveryStep.FAILED) if d.dead_executor_id == a.executor_id
        ]
        assert [d.target for d in failed] == [hung.executor_id]
        assert failed[0].reason
    finally:
        hung.kill()
