"""The Go connector (``connectors/go``) beyond what ``test_clients.py`` runs on every client:

- its own tests (``go test``): its session with a websocket peer in the test (the path, a refused
  and an unknown verb, a bad request, the reconnect 1 s after a close, the 1000 close at
  shutdown), its wire rendering and the choice of recovery path, without DBOS;
- the public recovery path (``public_resume``, forced through the app's
  ``BATON_TEST_CONNECTOR_RECOVERY``) taking over a killed executor's workflow once, through Baton.
  The default path (``runtime_recover``) is the one ``test_clients.py`` runs.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.baton_cluster import BatonCluster
from tests.clients.catalog import GO_1_9_CONNECTOR
from tests.clients.client import GO_CONNECTOR_DIR
from tests.conformance.scenario import (
    ExecutorPool,
    assert_checkpointed_steps_kept,
    crash_mid_workflow,
)

pytestmark = pytest.mark.conformance

GO_TEST_TIMEOUT_S = 600.0
"""A fresh build cache compiles the DBOS module and its dependencies first."""


def test_the_go_connectors_own_tests_pass() -> None:
    go = shutil.which("go")
    assert go is not None, (
        "connectors/go is tested with the Go toolchain and `go` is missing: install Go 1.26+ "
        "(`make client-deps` needs it too)"
    )
    result = subprocess.run(
        [go, "test", "-count=1", "-mod=readonly", "./..."],
        cwd=GO_CONNECTOR_DIR,
        capture_output=True,
        text=True,
        timeout=GO_TEST_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_public_recovery_path_finishes_a_killed_executors_workflow_once(
    cluster: BatonCluster,
    app_name: str,
    system_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATON_TEST_CONNECTOR_RECOVERY", "public_resume")
    fleet = ExecutorPool(cluster, app_name, system_db, tmp_path, GO_1_9_CONNECTOR)
    try:
        a, b = fleet.start_connected(2)
        assert "recovery=public_resume" in b.stderr_path.read_text(), b.stderr_tail()
        checkpointed = crash_mid_workflow(a, system_db, "wf-crash", n=5, step_s=0.5)

        assert fleet.wait_success("wf-crash").executor_id == b.executor_id
        steps = assert_checkpointed_steps_kept(a, "wf-crash", checkpointed)
        assert [executor for number, executor in steps if number == 5] == [b.executor_id], steps
    finally:
        fleet.terminate_all()
