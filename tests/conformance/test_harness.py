"""Self-test of the DBOS executor harness, without Baton, for every client in the catalog.

One real DBOS executor runs against a fresh system database while its conductor URL points
at a loopback port where nothing listens: the DBOS conductor client retries every second,
and that must not disturb the application.
"""

from __future__ import annotations

import logging
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from tests.clients.catalog import ALL, PYTHON_2_31, TYPESCRIPT_5_2
from tests.clients.client import Client, ClientPrepareError
from tests.dbos_app.harness import (
    ExecutorProcess,
    WorkflowRow,
    create_database,
    drop_database,
    read_workflow,
    recorded_step_ids,
    unique_database_name,
)
from tests.eventually import assert_eventually

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.conformance


@pytest.fixture(params=ALL, ids=[client.label for client in ALL])
def client(request: pytest.FixtureRequest) -> Client:
    chosen: Client = request.param
    return chosen


@pytest.fixture
def system_db_url() -> Iterator[str]:
    name = unique_database_name()
    url = create_database(name)
    yield url
    drop_database(name)


@pytest.fixture
def dead_conductor_url() -> str:
    """A ws:// URL on a loopback port that was free a moment ago and is not listened on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"ws://127.0.0.1:{port}"


def test_executor_runs_multi_step_workflow(
    client: Client,
    system_db_url: str,
    dead_conductor_url: str,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    workflow_id = f"wf-{uuid.uuid4().hex[:8]}"
    executor = _harness_executor(
        tmp_path,
        system_db_url,
        client,
        conductor_url=dead_conductor_url,
        conductor_key="test-key",
        app_version="harness-v1",
    )
    with executor:
        record_property("executor_ready_s", executor.ready_after_s)
        print(f"executor READY after {executor.ready_after_s:.2f}s")
        assert executor.app_version == "harness-v1"
        uuid.UUID(executor.executor_id)  # a conductor key makes DBOS pick a fresh uuid

        executor.start_workflow("multi_step", workflow_id, n=3, step_seconds=0.2)

        row = assert_eventually(
            lambda: _row_with_status(system_db_url, workflow_id, "SUCCESS"),
            timeout_s=30,
            message=f"workflow {workflow_id} reaches SUCCESS",
        )
        assert row.executor_id == executor.executor_id
        assert row.application_version == "harness-v1"
        assert executor.steps_of(workflow_id) == [(n, executor.executor_id) for n in (1, 2, 3)]
        assert len(recorded_step_ids(system_db_url, workflow_id)) == 3
        status = executor.workflow_status(workflow_id)
        assert status is not None
        assert status["status"] == "SUCCESS"

        executor.kill()
        assert executor.returncode == -9


def test_quick_workflow_and_sigterm(client: Client, system_db_url: str, tmp_path: Path) -> None:
    executor = _harness_executor(tmp_path, system_db_url, client)
    with executor:
        executor.start_workflow("quick", "quick-1", x=21)
        assert_eventually(
            lambda: _row_with_status(system_db_url, "quick-1", "SUCCESS"),
            timeout_s=30,
            message="quick workflow succeeds",
        )
        status = executor.workflow_status("quick-1")
        assert status is not None
        assert status["output"] == "42"
        assert executor.workflow_status("no-such-workflow") is None

        stopping = time.monotonic()
        assert executor.terminate(timeout_s=10) == 0
        print(f"executor exited {time.monotonic() - stopping:.2f}s after SIGTERM")


def test_start_many_starts_each_workflow_under_its_id(system_db_url: str, tmp_path: Path) -> None:
    """The benchmarks' load generator (``POST /start_many``, Python apps): one request starts a
    run of workflows ``<prefix><n>``; a malformed one starts nothing."""
    executor = _harness_executor(tmp_path, system_db_url, PYTHON_2_31)
    with executor:
        executor.start_many("quick", "many-", 3, 4, x=5)
        for workflow_id in [f"many-{n}" for n in range(3, 7)]:
            assert_eventually(
                partial(_row_with_status, system_db_url, workflow_id, "SUCCESS"),
                timeout_s=30,
                message=f"{workflow_id} succeeds",
            )
            status = executor.workflow_status(workflow_id)
            assert status is not None
            assert status["output"] == "10"
        assert read_workflow(system_db_url, "many-2") is None
        assert read_workflow(system_db_url, "many-7") is None

        with pytest.raises(RuntimeError, match="bad start_many request"):
            executor.start_many("no-such-workflow", "bad-", 0, 2)
        assert read_workflow(system_db_url, "bad-0") is None


def _harness_executor(
    tmp_path: Path,
    system_db_url: str,
    client: Client,
    *,
    conductor_url: str | None = None,
    conductor_key: str | None = None,
    app_version: str | None = "v1",
) -> ExecutorProcess:
    """A ``baton-harness`` executor of ``client`` keeping its markers and logs in ``tmp_path``."""
    return ExecutorProcess(
        app_name="baton-harness",
        system_db_url=system_db_url,
        marker_dir=tmp_path / "markers",
        log_dir=tmp_path / "executor",
        client=client,
        conductor_url=conductor_url,
        conductor_key=conductor_key,
        app_version=app_version,
    )


def _row_with_status(db_url: str, workflow_id: str, status: str) -> WorkflowRow:
    row = read_workflow(db_url, workflow_id)
    assert row is not None, "no status row yet"
    assert row.status == status, f"status is {row.status}"
    return row


def test_a_client_without_its_toolchain_fails_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TypeScript client never prepared, on a machine without Node.js: a clear error."""
    app_dir = tmp_path / "typescript"
    app_dir.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy(TYPESCRIPT_5_2.app_dir / name, app_dir / name)
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    client = replace(TYPESCRIPT_5_2, app_dir=app_dir)

    with pytest.raises(ClientPrepareError, match=r"`node` is missing.*make client-deps"):
        client.prepare()
    assert not (app_dir / "node_modules").exists()
