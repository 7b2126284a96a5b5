"""``/metrics`` on every role of a real ``baton up`` (embedded broker, SQLite), with real DBOS
executors: each scrape parses with Prometheus' own text parser, and the values move as
executors connect, run a workflow and die."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from uuid import uuid4

import pytest

from tests.baton_cluster import free_port
from tests.dbos_app.harness import ExecutorProcess, create_database, drop_database
from tests.eventually import assert_eventually
from tests.prometheus_text import Samples, scrape, value

pytestmark = pytest.mark.integration


def scrape_until(
    port: int,
    check: Callable[[Samples], bool],
    message: str,
    timeout_s: float,
) -> Samples:
    """Scrape ``port`` until ``check`` holds for the samples; returns those."""

    def attempt() -> Samples | None:
        samples = scrape(port)
        return samples if check(samples) else None

    found = assert_eventually(attempt, timeout_s=timeout_s, message=message)
    assert found is not None
    return found


class Up:
    """``baton up`` on free ports, in ``tmp_path``."""

    def __init__(self, tmp_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.data = tmp_path / "data"
        self.console, self.gateway, self.worker = free_port(), free_port(), free_port()
        self.prefix = f"m{uuid4().hex[:6]}."
        self.log = tmp_path / "up.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "baton", "up", "--data-dir", str(self.data)),
                    *("--gateway-port", str(self.gateway), "--console-port", str(self.console)),
                    *("--worker-port", str(self.worker)),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "BATON_TOPIC_PREFIX": self.prefix, **(env or {})},
            )

    def wait_until_up(self) -> None:
        def ready() -> bool:
            assert self.process.poll() is None, f"baton up exited:\n{self.tail()}"
            return "Baton is up" in self.log.read_text() and "worker ready" in self.log.read_text()

        assert_eventually(ready, timeout_s=60, message="baton up started")

    def baton(self, *args: str) -> str:
        """``baton ARGS --data-dir DATA``, which must succeed; its last line."""
        result = subprocess.run(
            [sys.executable, "-m", "baton", *args, "--data-dir", str(self.data)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    def read_workflow(self, token: str, app: str, workflow_id: str) -> None:
        """The console's workflow detail, which it asks a live executor for."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.console}/api/v1/apps/{app}/workflows/{workflow_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200

    def tail(self) -> str:
        return self.log.read_text()[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    baton = Up(tmp_path)
    try:
        baton.wait_until_up()
        yield baton
    finally:
        baton.stop()


@pytest.fixture
def conductor_up(tmp_path: Path) -> Iterator[Up]:
    """``baton up`` whose console also serves DBOS Conductor's families."""
    baton = Up(tmp_path, {"BATON_CONSOLE_DBOS_CONDUCTOR_METRICS": "1"})
    try:
        baton.wait_until_up()
        yield baton
    finally:
        baton.stop()


@pytest.fixture
def system_db() -> Iterator[str]:
    name = f"baton_m{uuid4().hex[:10]}"
    url = create_database(name)
    try:
        yield url
    finally:
        drop_database(name)


def test_every_role_exports_metrics_that_move(up: Up, system_db: str, tmp_path: Path) -> None:
    app = f"app{uuid4().hex[:6]}"
    key = up.baton("keys", "create", app)
    token = up.baton("tokens", "create", "prometheus", "--role", "viewer")
    gateway, worker, console = scrape(up.gateway), scrape(up.worker), scrape(up.console)
    for role, samples in (("gateway", gateway), ("worker", worker), ("console", console)):
        assert value(samples, "baton_info", role=role) == 1
    assert value(gateway, "baton_executors_connected", app=app) == 0
    opened_before = value(gateway, "baton_sessions_opened_total")

    def executor(n: int) -> ExecutorProcess:
        return ExecutorProcess(
            app_name=app,
            system_db_url=system_db,
            marker_dir=tmp_path / "markers",
            conductor_url=f"ws://127.0.0.1:{up.gateway}",
            conductor_key=key,
            log_dir=tmp_path / f"executor{n}",
        )

    with executor(1) as survivor, executor(2) as doomed:
        # Connected executors 0 -> 2 (by app, version and pod), sessions opened +2.
        gateway = scrape_until(
            up.gateway,
            lambda s: value(s, "baton_executors_connected", app=app, version="v1") == 2,
            "two executors connected in the gateway's metrics",
            timeout_s=30,
        )
        (labels,) = [k for k in gateway["baton_executors_connected"] if ("app", app) in k]
        assert dict(labels)["pod"]
        assert value(gateway, "baton_sessions_opened_total") == opened_before + 2
        assert value(gateway, "baton_events_published_total") > 0

        # The worker reads what the gateway published.
        events = f"{up.prefix}executor-events"
        assert_eventually(
            lambda: value(scrape(up.worker), "baton_events_consumed_total", topic=events) > 0,
            timeout_s=20,
            message="the worker counts the executor events it consumed",
        )

        # A workflow run moves the store's started and succeeded counters.
        workflow_id = f"wf-{uuid4().hex[:8]}"
        survivor.start_workflow("quick", workflow_id, x=3)
        console = scrape_until(
            up.console,
            lambda s: value(s, "baton_app_workflows_succeeded_total", app=app) >= 1,
            "the console's store metrics count the workflow as succeeded",
            timeout_s=30,
        )
        assert value(console, "baton_app_workflows_started_total", app=app) >= 1
        assert value(console, "baton_app_workflows_failed_total", app=app) == 0
        assert value(console, "baton_app_executors", app=app, state="connected") == 2
        worker = scrape(up.worker)
        assert value(worker, "baton_capture_lag_seconds_count") >= 1
        assert value(worker, "baton_store_write_seconds_count", operation="workflows") >= 1
        polls = value(scrape(up.gateway), "baton_command_round_trip_seconds_count", kind="poll")
        assert polls >= 1
        assert (("topic", events),) in {tuple(k) for k in worker["baton_consumer_lag_records"]}

        # The console asks a live executor for a workflow's detail: a command round trip.
        up.read_workflow(token, app, workflow_id)
        console = scrape(up.console)
        asked = {"kind": "get_workflow", "outcome": "ok"}
        assert value(console, "baton_command_round_trip_seconds_count", **asked) == 1
        commands = f"{up.prefix}commands"
        assert value(console, "baton_events_published_total", topic=commands) >= 1
        replies = f"{up.prefix}replies"
        assert value(console, "baton_events_consumed_total", topic=replies) >= 1

        # A killed executor: its session closes, the worker declares it dead and sends its
        # recovery to the survivor.
        doomed.kill()
        worker = scrape_until(
            up.worker,
            lambda s: value(s, "baton_recovery_decisions_total", outcome="succeeded") >= 1,
            "the worker counts the recovery decisions",
            timeout_s=40,
        )
        for outcome in ("declared_dead", "target_chosen", "sent"):
            assert value(worker, "baton_recovery_decisions_total", outcome=outcome) >= 1, outcome
        assert value(worker, "baton_recovery_sent_seconds_count") == 1
        assert value(worker, "baton_recovery_sent_seconds_sum") > 0
        gateway = scrape(up.gateway)
        assert value(gateway, "baton_executors_connected", app=app) == 1
        assert value(gateway, "baton_sessions_closed_total") >= 1
        assert (
            value(gateway, "baton_command_round_trip_seconds_count", kind="recover", outcome="ok")
            == 1
        )
        assert_eventually(
            lambda: (
                value(scrape(up.console), "baton_app_executors", app=app, state="recovered") == 1
            ),
            timeout_s=20,
            message="the store's executor states in the console's metrics",
        )


def test_the_console_serves_dbos_conductor_families_when_asked(
    conductor_up: Up, system_db: str, tmp_path: Path
) -> None:
    """``BATON_CONSOLE_DBOS_CONDUCTOR_METRICS=1``: a real executor and a workflow it ran show in
    ``dbos_conductor_v1_*`` (the rate once the workflow's minute has completed)."""
    up = conductor_up
    app = f"app{uuid4().hex[:6]}"
    key = up.baton("keys", "create", app)
    with ExecutorProcess(
        app_name=app,
        system_db_url=system_db,
        marker_dir=tmp_path / "markers",
        conductor_url=f"ws://127.0.0.1:{up.gateway}",
        conductor_key=key,
        log_dir=tmp_path / "executor",
    ) as executor:
        healthy = {"application": app, "status": "HEALTHY", "application_version": "v1"}
        scrape_until(
            up.console,
            lambda s: value(s, "dbos_conductor_v1_executor_count", **healthy) == 1,
            "the connected executor counted HEALTHY",
            timeout_s=30,
        )
        executor.start_workflow("quick", f"wf-{uuid4().hex[:8]}", x=3)
        # Created and completed may fall in two minutes: each rate shows once its own has.
        for family in ("workflow_started_rate", "workflow_success_rate"):
            name = f"dbos_conductor_v1_{family}"

            def served(samples: Samples, name: str = name) -> bool:
                return value(samples, name, application=app) > 0

            console = scrape_until(
                up.console,
                served,
                f"the workflow's minute completed and {name} served",
                timeout_s=100,
            )
            ((labels, rate),) = [
                (dict(k), v) for k, v in console[name].items() if ("application", app) in k
            ]
            assert rate == 1 / 60
            assert labels["workflow_name"]
            assert labels["queue_name"] == ""
