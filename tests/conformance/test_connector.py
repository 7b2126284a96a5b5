"""The Python connector (``connectors/python``) on the verbs Baton does not send: a real DBOS
executor (``dbos==3.3.0`` and ``3.4.0``, ``tests/dbos_app`` through ``baton_connector``) against a
websocket peer in the test that speaks the Conductor protocol, frame by frame.

What Baton sends (connect, recovery, capture, cancel/resume/fork/restart/delete, shutdown) is
covered through Baton itself in ``test_clients.py``; here: rewind, fork from failure, retention,
``exist_pending_workflows``, queues and schedules, the refusal of a verb the public API cannot
serve, an unknown message type, the websocket path and the 1000 close after ``DBOS.destroy()``.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from websockets.sync.server import Server, ServerConnection, serve

from tests.clients.catalog import CONNECTORS
from tests.clients.client import Client
from tests.conformance.test_management import step_numbers, wait_dbos_status
from tests.dbos_app.harness import ExecutorProcess
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance

REPLY_TIMEOUT_S = 20.0
KEY = "connector-test-key"


class Peer:
    """A conductor of one connection: sends requests and waits for the reply to each."""

    def __init__(self) -> None:
        self._connections: queue.Queue[ServerConnection] = queue.Queue()
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self.close_codes: list[int | None] = []
        self.paths: list[str] = []
        self._server: Server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._connection: ServerConnection | None = None

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
        self._connections.put(connection)
        for frame in connection:
            self._replies.put(json.loads(frame))
        self.close_codes.append(connection.close_code)

    def await_connection(self) -> None:
        self._connection = self._connections.get(timeout=REPLY_TIMEOUT_S)

    def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        assert self._connection is not None, "no connection yet"
        request_id = uuid4().hex
        self._connection.send(json.dumps({"type": kind, "request_id": request_id, **fields}))
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while True:
            reply = self._replies.get(timeout=max(0.1, deadline - time.monotonic()))
            if reply.get("request_id") == request_id:
                assert reply["type"] == kind, reply
                return reply


@pytest.fixture(params=CONNECTORS, ids=[client.label for client in CONNECTORS])
def client(request: pytest.FixtureRequest) -> Client:
    chosen: Client = request.param
    return chosen


@pytest.fixture
def connected(
    client: Client, system_db: str, app_name: str, tmp_path: Path
) -> Iterator[tuple[Peer, ExecutorProcess]]:
    with Peer() as peer:
        executor = ExecutorProcess(
            app_name=app_name,
            system_db_url=system_db,
            marker_dir=tmp_path / "markers",
            conductor_url=peer.url,
            conductor_key=KEY,
            client=client,
            log_dir=tmp_path / "executor",
        )
        with executor:
            peer.await_connection()
            yield peer, executor


def test_the_verbs_baton_does_not_send_are_served_through_the_public_api(
    connected: tuple[Peer, ExecutorProcess], client: Client, app_name: str
) -> None:
    peer, executor = connected
    assert peer.paths == [f"/websocket/{app_name}/{KEY}"]
    info = peer.request("executor_info")
    assert (info["executor_id"], info["language"], info["dbos_version"]) == (
        executor.executor_id,
        "python",
        client.sdk_version,
    ), info
    assert info["application_version"] == "v1", info

    executor.start_workflow("multi_step", "wf-rewind", n=3, step_seconds=0.05)
    wait_dbos_status(executor, "wf-rewind", "SUCCESS")
    rewound = peer.request("rewind_workflow", body={"workflow_id": "wf-rewind", "start_step": 2})
    assert rewound["success"] is True, rewound
    assert_eventually(
        lambda: step_numbers(executor, "wf-rewind") == [1, 2, 3, 2, 3],
        timeout_s=30,
        message="the rewind ran steps 2 and 3 again, and only them",
    )
    wait_dbos_status(executor, "wf-rewind", "SUCCESS")

    executor.start_workflow("failing", "wf-fail", message="boom")
    wait_dbos_status(executor, "wf-fail", "ERROR")
    forked = peer.request(
        "fork_from_failure", body={"workflow_ids": ["wf-fail"], "from_last_failure": True}
    )
    assert not forked.get("error_message"), forked
    assert executor.forks_of("wf-fail") == forked["forked_workflow_ids"], forked
    wait_dbos_status(executor, forked["forked_workflow_ids"][0], "ERROR")

    pending = peer.request(
        "exist_pending_workflows", executor_id=executor.executor_id, application_version="v1"
    )
    assert pending["exist"] is False, pending
    queues = peer.request("list_queues", body={})
    assert "serial" in [q["name"] for q in queues["output"]], queues
    schedules = peer.request("list_schedules", body={})
    assert [s["schedule_name"] for s in schedules["output"]] == ["yearly-tick"], schedules

    cutoff_ms = int(time.time() * 1000) + 60_000
    retention = peer.request(
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


def test_unsupported_and_unknown_verbs_are_refused_and_shutdown_closes_with_1000(
    connected: tuple[Peer, ExecutorProcess], client: Client
) -> None:
    peer, executor = connected
    metrics = peer.request(
        "get_metrics",
        start_time="2026-01-01T00:00:00Z",
        end_time="2026-01-02T00:00:00Z",
        metric_class="workflow_step_count",
    )
    assert metrics["error_message"].startswith(
        f"get_metrics is not supported by this client (baton-connector on dbos {client.sdk_version}"
    ), metrics
    unknown = peer.request("frobnicate")
    assert "Unknown message type" in unknown["error_message"], unknown
    still = peer.request("executor_info")
    assert still["executor_id"] == executor.executor_id, "the session survives both"

    assert executor.terminate() == 0
    assert_eventually(
        lambda: peer.close_codes == [1000], timeout_s=10, message="the connector closed with 1000"
    )
