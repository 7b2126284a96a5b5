"""Run real DBOS executors in subprocesses for tests and benchmarks, of any client in
``tests.clients.catalog`` (by default Python ``dbos==2.31.1``: ``executor_app.py``).

Owns: spawning, waiting for READY, driving through the control server, killing and
terminating executor processes, and reading the step markers they write. The control
contract every client application keeps is documented in ``tests/clients/__init__.py``.

Database helpers live in ``system_db`` and are re-exported here for convenience.
Imports nothing from Baton and nothing from pytest: bench scripts use it too. Everything
here blocks; from async tests call ``start``/``terminate`` through ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlencode

from tests.clients.catalog import PYTHON_2_31
from tests.clients.client import Client
from tests.dbos_app.system_db import (
    WorkflowRow,
    create_database,
    database_url,
    drop_database,
    read_workflow,
    read_workflows,
    recorded_step_ids,
    unique_database_name,
)

__all__ = [
    "EXECUTOR_APP",
    "SCHEDULED_WORKFLOW",
    "SCHEDULE_NAME",
    "ExecutorProcess",
    "ExecutorStartError",
    "NotSupportedByClient",
    "WorkflowRow",
    "create_database",
    "database_url",
    "drop_database",
    "read_steps",
    "read_workflow",
    "read_workflows",
    "recorded_step_ids",
    "unique_database_name",
]

logger = logging.getLogger(__name__)

EXECUTOR_APP = Path(__file__).with_name("executor_app.py")
"""The Python clients' DBOS application script."""

SCHEDULE_NAME = "yearly-tick"
"""The schedule every executor applies at launch (``executor_app.SCHEDULE_NAME``; that script
cannot be imported here without registering its DBOS workflows in this process)."""
SCHEDULED_WORKFLOW = "ticking"
"""The workflow ``SCHEDULE_NAME`` runs."""

_READY_PREFIX = "READY "
T = TypeVar("T")
_CONTROL_TIMEOUT_S = 10.0


class ExecutorStartError(RuntimeError):
    """The executor exited or did not print READY in time; carries its stderr tail."""

    def __init__(self, reason: str, *, stderr_tail: str) -> None:
        super().__init__(f"{reason}\n--- executor stderr (tail) ---\n{stderr_tail}")
        self.reason = reason
        self.stderr_tail = stderr_tail


def read_steps(marker_dir: Path, workflow_id: str) -> list[tuple[int, str]]:
    """Steps executed for ``workflow_id`` by any executor sharing ``marker_dir``.

    Returns:
        ``(step_no, executor_id)`` in execution order; a step re-run after a crash appears
        twice (DBOS steps are at-least-once; only checkpointed steps are never re-run).
    """
    path = marker_dir / f"{workflow_id}.steps"
    if not path.exists():
        return []
    steps = []
    for line in path.read_text(encoding="utf-8").splitlines():
        marker_workflow, step_no, executor_id = line.split(" ")
        if marker_workflow == workflow_id:
            steps.append((int(step_no), executor_id))
    return steps


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorConfig:
    """How to launch one executor; maps one-to-one onto ``BATON_TEST_*`` variables."""

    app_name: str
    system_db_url: str
    marker_dir: Path
    conductor_url: str | None = None
    conductor_key: str | None = None
    app_version: str | None = "v1"
    log_level: str = "INFO"

    def to_env(self) -> dict[str, str]:
        """The subprocess environment additions."""
        env = {
            "BATON_TEST_APP_NAME": self.app_name,
            "BATON_TEST_SYSTEM_DB_URL": self.system_db_url,
            "BATON_TEST_MARKER_DIR": str(self.marker_dir),
            "BATON_TEST_CONTROL_PORT": "0",
            "BATON_TEST_LOG_LEVEL": self.log_level,
        }
        optional = {
            "BATON_TEST_CONDUCTOR_URL": self.conductor_url,
            "BATON_TEST_CONDUCTOR_KEY": self.conductor_key,
            "BATON_TEST_APP_VERSION": self.app_version,
        }
        env.update({key: value for key, value in optional.items() if value is not None})
        return env


class NotSupportedByClient(RuntimeError):
    """The client's application answered 501: it does not implement that control endpoint."""


class ExecutorProcess:
    """One executor subprocess of ``client``; a context manager that always reaps it.

    stdout and stderr go to files in ``log_dir`` (no pipe can fill up and stall the
    executor). Pass a pytest ``tmp_path`` subdirectory to let pytest manage retention; the
    default is a fresh ``mkdtemp`` directory, kept for post-mortems and never deleted here.
    """

    def __init__(
        self,
        *,
        app_name: str,
        system_db_url: str,
        marker_dir: Path,
        conductor_url: str | None = None,
        conductor_key: str | None = None,
        app_version: str | None = "v1",
        log_level: str = "INFO",
        ready_timeout_s: float = 60.0,
        client: Client = PYTHON_2_31,
        log_dir: Path | None = None,
    ) -> None:
        self.config = ExecutorConfig(
            app_name=app_name,
            system_db_url=system_db_url,
            marker_dir=marker_dir,
            conductor_url=conductor_url,
            conductor_key=conductor_key,
            app_version=app_version,
            log_level=log_level,
        )
        self.ready_timeout_s = ready_timeout_s
        self.client = client
        if log_dir is None:
            log_dir = Path(tempfile.mkdtemp(prefix="baton-executor-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir = log_dir
        self.stdout_path = self.log_dir / "stdout.log"
        self.stderr_path = self.log_dir / "stderr.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._executor_id: str | None = None
        self._control_port: int | None = None
        self._app_version: str | None = None
        self.ready_after_s: float | None = None
        """Seconds from spawn to READY, measured by ``wait_ready``."""
        self._spawned_at = 0.0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Prepare the client (once: see ``Client.prepare``), spawn the executor and block until
        it prints READY: :meth:`spawn`, then :meth:`wait_ready`.

        Raises:
            ClientPrepareError: the client's toolchain is missing or its installation failed.
            ExecutorStartError: it exited first or ``ready_timeout_s`` passed (then it is
                killed).
        """
        return self.spawn().wait_ready()

    def spawn(self) -> Self:
        """Prepare the client (once) and spawn the executor without waiting for it: spawn many,
        then :meth:`wait_ready` each, and they start side by side."""
        if self._proc is not None:
            raise RuntimeError("executor already started")
        self.client.prepare()
        env = {
            **os.environ,
            **self.config.to_env(),
            **self.client.environment(),
            "PYTHONUNBUFFERED": "1",
        }
        self._spawned_at = time.monotonic()
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self._proc = subprocess.Popen(self.client.command(), stdout=out, stderr=err, env=env)
        return self

    def wait_ready(self) -> Self:
        """Block until the spawned executor prints READY (see :meth:`start` for the errors)."""
        started = self._spawned_at
        self._await_ready(started)
        self.ready_after_s = time.monotonic() - started
        self._app_version = str(self._get("/executor")["app_version"])
        logger.info(
            "%s executor %s ready in %.2fs (pid %d, control port %d)",
            self.client.label,
            self._executor_id,
            self.ready_after_s,
            self.pid,
            self._control_port,
        )
        return self

    def _await_ready(self, started: float) -> None:
        proc = self._require_proc()
        while True:
            ready = self._ready_line()
            if ready is not None:
                _, self._executor_id, port = ready.split(" ")
                self._control_port = int(port)
                return
            if proc.poll() is not None:
                raise ExecutorStartError(
                    f"executor exited with code {proc.returncode} before READY",
                    stderr_tail=self.stderr_tail(),
                )
            if time.monotonic() - started > self.ready_timeout_s:
                self.kill()
                raise ExecutorStartError(
                    f"executor not READY after {self.ready_timeout_s:.0f}s",
                    stderr_tail=self.stderr_tail(),
                )
            time.sleep(0.05)

    def _ready_line(self) -> str | None:
        for line in self.stdout_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(_READY_PREFIX):
                return line.strip()
        return None

    def kill(self) -> None:
        """SIGKILL (a crash: no cleanup, PENDING workflows stay owned by this executor)."""
        proc = self._require_proc()
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()

    def freeze(self) -> None:
        """SIGSTOP (a hung process: its sockets stay open, nothing answers)."""
        self._require_proc().send_signal(signal.SIGSTOP)

    def terminate(self, timeout_s: float = 10.0) -> int:
        """SIGTERM and wait; SIGKILL if it outlives ``timeout_s``.

        Returns:
            The exit code (negative: killed by that signal).
        """
        proc = self._require_proc()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("executor %s ignored SIGTERM; killing", self._executor_id)
                self.kill()
        return proc.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            self.terminate()

    # -- identity --------------------------------------------------------------------------

    @property
    def executor_id(self) -> str:
        """DBOS executor id (a fresh uuid per process when a conductor key is set)."""
        return self._require_ready(self._executor_id)

    @property
    def app_version(self) -> str:
        """DBOS application version as the executor reports it."""
        return self._require_ready(self._app_version)

    @property
    def control_port(self) -> int:
        return self._require_ready(self._control_port)

    @property
    def pid(self) -> int:
        return self._require_proc().pid

    @property
    def returncode(self) -> int | None:
        """``None`` while running."""
        return self._require_proc().poll()

    # -- control ---------------------------------------------------------------------------

    def start_workflow(
        self, name: str, workflow_id: str, *, queue: str | None = None, **params: Any
    ) -> None:
        """Start workflow ``name`` (``multi_step``/``quick``/``failing``/``big``/``chatty``) on
        this executor, or enqueue it on ``queue`` (``serial``).

        Raises:
            RuntimeError: the executor rejected the request.
        """
        fields = {"workflow": name, "id": workflow_id, **params}
        if queue is not None:
            fields["queue"] = queue
        self._request("POST", f"/start?{urlencode(fields)}")

    def start_many(self, name: str, prefix: str, first: int, count: int, **params: Any) -> None:
        """Start ``count`` workflows ``name`` with ids ``<prefix><first>`` onwards, all with
        ``params``, in one request (Python apps only; a benchmark's load generator).

        Raises:
            RuntimeError: the executor rejected the request.
            NotSupportedByClient: the client's app has no such endpoint.
        """
        fields = {"workflow": name, "prefix": prefix, "first": first, "count": count, **params}
        self._request("POST", f"/start_many?{urlencode(fields)}")

    def cancel_workflow(self, workflow_id: str) -> None:
        """``DBOS.cancel_workflow`` on this executor."""
        self._request("POST", f"/cancel?{urlencode({'id': workflow_id})}")

    def send_notification(self, workflow_id: str, message: str, topic: str | None = None) -> None:
        """``DBOS.send(workflow_id, message, topic)`` from this executor (outside any workflow).

        Raises:
            RuntimeError: the executor rejected the request.
        """
        fields = {"id": workflow_id, "message": message}
        if topic is not None:
            fields["topic"] = topic
        self._request("POST", f"/send?{urlencode(fields)}")

    def events_of(self, workflow_id: str) -> dict[str, Any]:
        """``DBOS.get_all_events(workflow_id)``: the latest value of each event key."""
        events: dict[str, Any] = self._get(f"/events?{urlencode({'id': workflow_id})}")["events"]
        return events

    def forks_of(self, workflow_id: str) -> list[str]:
        """Ids of the workflows forked (or restarted) from ``workflow_id``, oldest first."""
        forks: list[str] = self._get(f"/forks?{urlencode({'id': workflow_id})}")["workflow_ids"]
        return forks

    def schedules(self) -> list[dict[str, Any]]:
        """The app's stored schedules (``DBOS.list_schedules``): ``schedule_name``,
        ``workflow_name``, ``schedule``, ``status``."""
        schedules: list[dict[str, Any]] = self._get("/schedules")["schedules"]
        return schedules

    def workflow_status(self, workflow_id: str) -> dict[str, Any] | None:
        """Status as this executor's DBOS sees it, or ``None`` if unknown."""
        try:
            return self._get(f"/status?{urlencode({'id': workflow_id})}")
        except _NotFound:
            return None

    def steps_of(self, workflow_id: str) -> list[tuple[int, str]]:
        """``read_steps`` on this executor's marker dir (shared with its peers)."""
        return read_steps(self.config.marker_dir, workflow_id)

    def stderr_tail(self, lines: int = 40) -> str:
        """Last ``lines`` lines of the executor's stderr (DBOS logs)."""
        if not self.stderr_path.exists():
            return ""
        text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _get(self, path: str) -> dict[str, Any]:
        return self._request("GET", path)

    def _request(self, method: str, path: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.control_port}{path}"
        request = urllib.request.Request(url, method=method)
        try:
            with urllib.request.urlopen(request, timeout=_CONTROL_TIMEOUT_S) as response:
                body: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise _NotFound(path) from exc
            if exc.code == 501:
                raise NotSupportedByClient(
                    f"{self.client.label} does not implement {method} {path.split('?')[0]}"
                ) from exc
            detail = exc.read().decode(errors="replace")
            raise RuntimeError(f"{method} {path} -> {exc.code}: {detail}") from exc
        return body

    def _require_proc(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise RuntimeError("executor not started")
        return self._proc

    def _require_ready(self, value: T | None) -> T:
        if value is None:
            raise RuntimeError("executor not READY yet")
        return value

    def __repr__(self) -> str:
        pid = self._proc and self._proc.pid
        return f"<ExecutorProcess {self.client.label} {self._executor_id} pid={pid}>"


class _NotFound(Exception):
    pass
