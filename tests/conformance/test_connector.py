"""Baton's connectors (``connectors/python``, ``connectors/typescript``) on the verbs Baton does
not send: a real DBOS executor of each connector client (``dbos==3.3.0`` and ``3.4.0`` through
``baton_connector``, ``@dbos-inc/dbos-sdk@5.3.0`` through ``baton-connector``;
``tests/clients/catalog.py`` ``CONNECTORS``) against a websocket peer in the test that speaks the
Conductor protocol, frame by frame.

What Baton sends (connect, recovery, capture, cancel/resume/fork/restart/delete, shutdown) is
covered through Baton itself in ``test_clients.py``; here: rewind, fork from failure, retention,
``exist_pending_workflows``, queues and schedules, the refusal of a verb the public API cannot
serve, an unknown message type, the websocket path, the 1000 close after DBOS shuts down, and
``recovery`` on each of its two paths (the version table's private call, the public fallback)
with a duplicate request. The TypeScript connector's own ``npm test`` (its pure parts) runs here
too, on its client's install.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from websockets.sync.server import Server, ServerConnection, serve

from tests.clients.catalog import PYTHON_CONNECTORS, TYPESCRIPT_5_3_CONNECTOR, TYPESCRIPT_CONNECTORS
from tests.clients.client import TYPESCRIPT_CONNECTOR_DIR, Client
from tests.conformance.scenario import assert_checkpointed_steps_kept, crash_mid_workflow
from tests.conformance.test_management import step_numbers, wait_dbos_status
from tests.dbos_app.harness import ExecutorProcess
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance

FRAME_CLIENTS = (*PYTHON_CONNECTORS, *TYPESCRIPT_CONNECTORS)
"""The connectors this file drives frame by frame; the Go connector's frames are covered by its own
``go test`` (``test_go_connector.py``)."""

REPLY_TIMEOUT_S = 20.0
KEY = "connector-test-key"
RECONNECT_WITHIN_S = 5.0
"""The connector reconnects 1 s after a close (DBOS's stock client's delay), plus a handshake."""


class Session:
    """One connector's connection to the peer: requests, and the reply to each."""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()

    def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        request_id = uuid4().hex
        self.connection.send(json.dumps({"type": kind, "request_id": request_id, **fields}))
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while True:
            reply = self.replies.get(timeout=max(0.1, deadline - time.monotonic()))
            if reply.get("request_id") == request_id:
                assert reply["type"] == kind, reply
                return reply


class Peer:
    """A conductor in the test: a websocket server whose sessions the test drives."""

    def __init__(self) -> None:
        self._sessions: queue.Queue[Session] = queue.Queue()
        self.close_codes: list[int | None] = []
        self.paths: list[str] = []
        self._server: Server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}"

    def __enter__(self) -> Peer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._thread.join(10)

    def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        self.paths.append(connection.request.path)
        session = Session(connection)
        self._sessions.put(session)
        for frame in connection:
            session.replies.put(json.loads(frame))
        self.close_codes.append(connection.close_code)

    def next_session(self) -> Session:
        """The next connection to open (in the order the connectors connect)."""
        return self._sessions.get(timeout=REPLY_TIMEOUT_S)


@pytest.fixture(params=FRAME_CLIENTS, ids=[client.label for client in FRAME_CLIENTS])
def client(request: pytest.FixtureRequest) -> Client:
    chosen: Client = request.param
    return chosen


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer() as running:
        yield running


@pytest.fixture
def start(
    peer: Peer, client: Client, system_db: str, app_name: str, tmp_path: Path
) -> Iterator[Callable[[], tuple[Session, ExecutorProcess]]]:
    """Start an executor of ``client`` connected to ``peer``; all are stopped after the test."""
    started: list[ExecutorProcess] = []

    def one() -> tuple[Session, ExecutorProcess]:
        executor = ExecutorProcess(
            app_name=app_name,
            system_db_url=system_db,
            marker_dir=tmp_path / "markers",
            conductor_url=peer.url,
            conductor_key=KEY,
            client=client,
            log_dir=tmp_path / f"executor{len(started)}",
        )
        started.append(executor)
        executor.start()
        return peer.next_session(), executor

    yield one
    for executor in started:
        executor.terminate()


def test_the_verbs_baton_does_not_send_are_served_through_the_public_api(
    start: Callable[[], tuple[Session, ExecutorProcess]], peer: Peer, client: Client, app_name: str
) -> None:
    session, executor = start()
    assert peer.paths == [f"/websocket/{app_name}/{KEY}"]
    info = session.request("executor_info")
    assert (info["executor_id"], info["language"], info["dbos_version"]) == (
        executor.executor_id,
        client.language,
        client.sdk_version,
    ), info
    assert info["application_version"] == "v1", info

    executor.start_workflow("multi_step", "wf-rewind", n=3, step_seconds=0.05)
    wait_dbos_status(executor, "wf-rewind", "SUCCESS")
    rewound = session.request(
        "rewind_workflow",
        body={"workflow_id": "wf-rewind", "start_step": client.function_id_of_step(2)},
    )
    assert rewound["success"] is True, rewound
    assert_eventually(
        lambda: step_numbers(executor, "wf-rewind") == [1, 2, 3, 2, 3],
        timeout_s=30,
        message="the rewind ran steps 2 and 3 again, and only them",
    )
    wait_dbos_status(executor, "wf-rewind", "SUCCESS")

    executor.start_workflow("failing", "wf-fail", message="boom")
    wait_dbos_status(executor, "wf-fail", "ERROR")
    forked = session.request(
        "fork_from_failure", body={"workflow_ids": ["wf-fail"], "from_last_failure": True}
    )
    assert not forked.get("error_message"), forked
    assert executor.forks_of("wf-fail") == forked["forked_workflow_ids"], forked
    wait_dbos_status(executor, forked["forked_workflow_ids"][0], "ERROR")

    pending = session.request(
        "exist_pending_workflows", executor_id=executor.executor_id, application_version="v1"
    )
    assert pending["exist"] is False, pending
    queues = session.request("list_queues", body={})
    assert "serial" in [q["name"] for q in queues["output"]], queues
    schedules = session.request("list_schedules", body={})
    assert [s["schedule_name"] for s in schedules["output"]] == ["yearly-tick"], schedules

    cutoff_ms = int(time.time() * 1000) + 60_000
    retention = session.request(
        "retention",
        body={
            "gc_cutoff_epoch_ms": cutoff_ms,
            "gc_rows_threshold": None,
            "gc_batch_size": None,
            "timeout_cutoff_epoch_ms": None,
        },
    )
    assert retention["success"] is True, retention
    assert executor.workflow_status("wf-rewind") is None, "retention deleted the finished workflow"
    assert executor.workflow_status("wf-fail") is None


def test_refusals_a_reconnect_and_a_shutdown_that_closes_with_1000(
    start: Callable[[], tuple[Session, ExecutorProcess]], peer: Peer, client: Client
) -> None:
    session, executor = start()
    metrics = session.request(
        "get_metrics",
        start_time="2026-01-01T00:00:00Z",
        end_time="2026-01-02T00:00:00Z",
        metric_class="workflow_step_count",
    )
    refusal = metrics["error_message"]
    assert refusal.startswith("get_metrics is not supported by this client (baton-connector on "), (
        metrics
    )
    assert f" {client.sdk_version}: " in refusal, metrics
    unknown = session.request("frobnicate")
    assert unknown["error_message"] == "Unknown message type", "the stock clients' exact answer"
    still = session.request("executor_info")
    assert still["executor_id"] == executor.executor_id, "the session survives both"

    closed_at = time.monotonic()
    session.connection.close(1001)  # the conductor goes away: the connector comes back
    again = peer.next_session()
    assert time.monotonic() - closed_at < RECONNECT_WITHIN_S
    assert again.request("executor_info")["executor_id"] == executor.executor_id

    assert executor.terminate() == 0
    assert_eventually(
        lambda: peer.close_codes == [1001, 1000],
        timeout_s=10,
        message="the connector closed its second session with 1000",
    )


@pytest.mark.parametrize("strategy", ["private_recover", "public_resume"])
def test_recovery_takes_over_a_killed_executors_workflow_once(
    start: Callable[[], tuple[Session, ExecutorProcess]],
    strategy: str,
    system_db: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each recovery path (``baton_connector.recovery``), forced: the survivor finishes the dead
    executor's workflow without running its checkpointed steps again, and a duplicate request
    changes nothing."""
    monkeypatch.setenv("BATON_TEST_CONNECTOR_RECOVERY", strategy)
    _, a = start()
    session, b = start()
    assert session.request("executor_info")["executor_metadata"]["recovery"] == strategy
    checkpointed = crash_mid_workflow(a, system_db, "wf-crash", n=5, step_s=0.5)

    for _ in range(2):
        reply = session.request("recovery", executor_ids=[a.executor_id])
        assert reply["success"] is True, reply
    wait_dbos_status(b, "wf-crash", "SUCCESS")
    steps = assert_checkpointed_steps_kept(a, "wf-crash", checkpointed)
    assert [executor for number, executor in steps if number == 5] == [b.executor_id], steps
    described = b.workflow_status("wf-crash")
    assert described is not None
    assert described["executor_id"] == b.executor_id, described
    pending = session.request(
        "exist_pending_workflows", executor_id=a.executor_id, application_version="v1"
    )
    assert pending["exist"] is False, pending


def test_the_typescript_connectors_own_tests_pass() -> None:
    """``connectors/typescript``'s ``npm test`` (``node:test``: frame decoding, reply shapes, the
    recovery path per SDK version), on the packages its conformance client installs."""
    TYPESCRIPT_5_3_CONNECTOR.prepare()
    modules = TYPESCRIPT_5_3_CONNECTOR.packages_dir / "node_modules"
    result = subprocess.run(
        ["node", "--test", "test/"],
        cwd=TYPESCRIPT_CONNECTOR_DIR,
        env={**os.environ, "NODE_PATH": str(modules)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout, result.stdout
