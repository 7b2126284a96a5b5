"""The steps conformance tests share: real executors of one app on a cluster, and waits on what
Baton and the DBOS system database say."""

from __future__ import annotations

from pathlib import Path

from streams.records import RecoveryDecision, RecoveryStep
from tests.baton_cluster import BatonCluster
from tests.clients.catalog import PYTHON_2_31
from tests.clients.client import Client
from tests.dbos_app.harness import ExecutorProcess, read_workflow, recorded_step_ids
from tests.dbos_app.system_db import WorkflowRow
from tests.eventually import assert_eventually


class ExecutorPool:
    """Real DBOS executors of one app and one client, connected to a cluster's gateways with one
    key."""

    def __init__(
        self,
        cluster: BatonCluster,
        app: str,
        system_db: str,
        workdir: Path,
        client: Client = PYTHON_2_31,
    ) -> None:
        self.cluster = cluster
        self.client = client
        self.app = app
        self.system_db = system_db
        self.workdir = workdir
        self.key = cluster.create_key(app)
        self.started: list[ExecutorProcess] = []

    def start(
        self, app_version: str = "v1", *, gateway: int = 0, **overrides: object
    ) -> ExecutorProcess:
        return self.spawn(app_version, gateway=gateway, **overrides).wait_ready()

    def spawn(
        self, app_version: str = "v1", *, gateway: int = 0, **overrides: object
    ) -> ExecutorProcess:
        """An executor spawned, not yet READY: spawn many, then ``wait_ready`` each, and they
        start side by side."""
        params: dict[str, object] = {
            "app_name": self.app,
            "system_db_url": self.system_db,
            "marker_dir": self.workdir / "markers",
            "conductor_url": self.cluster.conductor_url_of(gateway),
            "conductor_key": self.key,
            "app_version": app_version,
            "log_dir": self.workdir / f"executor{len(self.started)}",
            "client": self.client,
            **overrides,
        }
        executor = ExecutorProcess(**params)  # type: ignore[arg-type]
        self.started.append(executor)
        return executor.spawn()

    def start_connected(self, count: int, app_version: str = "v1") -> list[ExecutorProcess]:
        executors = [self.start(app_version) for _ in range(count)]
        self.wait_connected(*executors)
        return executors

    def wait_connected(self, *executors: ExecutorProcess) -> dict[str, dict[str, object]]:
        def listed() -> dict[str, dict[str, object]]:
            rows = self.cluster.executors(self.app)
            for executor in executors:
                row = rows.get(executor.executor_id, {})
                assert row.get("state") == "connected", (executor.executor_id, row)
            return rows

        return assert_eventually(listed, timeout_s=30, message="executors listed as connected")

    def run(self, executor: ExecutorProcess, workflow_id: str, n: int, step_s: float) -> None:
        """Start ``multi_step`` on ``executor`` and wait until its first step is checkpointed."""
        executor.start_workflow("multi_step", workflow_id, n=n, step_seconds=step_s)
        assert_eventually(
            lambda: recorded_step_ids(self.system_db, workflow_id),
            timeout_s=20,
            message=f"{workflow_id} running",
        )

    def wait_success(self, workflow_id: str, timeout_s: float = 60) -> WorkflowRow:
        def succeeded() -> WorkflowRow | None:
            row = read_workflow(self.system_db, workflow_id)
            return row if row is not None and row.status == "SUCCESS" else None

        row = assert_eventually(succeeded, timeout_s=timeout_s, message=f"{workflow_id} SUCCESS")
        assert row is not None
        return row

    def decisions(self, step: RecoveryStep | None = None) -> list[RecoveryDecision]:
        """The app's recovery decisions on the audit topic, optionally of one step."""
        return [
            r
            for r in self.cluster.audit_records(self.app)
            if isinstance(r, RecoveryDecision) and (step is None or r.step is step)
        ]

    def terminate_all(self) -> None:
        for executor in self.started:
            executor.terminate()


def crash_mid_workflow(
    executor: ExecutorProcess, system_db: str, workflow_id: str, *, n: int, step_s: float
) -> int:
    """Start ``multi_step`` ``workflow_id`` (``n`` steps of ``step_s``) on ``executor`` and
    SIGKILL it once two steps are checkpointed; returns the steps checkpointed at its death."""
    executor.start_workflow("multi_step", workflow_id, n=n, step_seconds=step_s)
    assert_eventually(
        lambda: len(recorded_step_ids(system_db, workflow_id)) >= 2,
        timeout_s=20,
        message=f"two steps of {workflow_id} checkpointed on {executor.executor_id}",
    )
    executor.kill()
    return len(recorded_step_ids(system_db, workflow_id))


def assert_checkpointed_steps_kept(
    dead: ExecutorProcess, workflow_id: str, checkpointed: int
) -> list[tuple[int, str]]:
    """The first ``checkpointed`` steps of ``workflow_id`` ran on ``dead`` alone (its recovery
    did not run them again); returns every step run, as ``(number, executor_id)``."""
    steps = dead.steps_of(workflow_id)
    for step_no in range(1, checkpointed + 1):
        runs = [executor for number, executor in steps if number == step_no]
        assert runs == [dead.executor_id], f"checkpointed step {step_no} re-run: {runs}"
    return steps
