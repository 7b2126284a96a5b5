"""A real DBOS application that conformance tests and benchmarks run in subprocesses.

Run it as ``python tests/dbos_app/executor_app.py``. It is configured only through the
environment (see ``AppSettings.from_env``) and is driven through a tiny HTTP control server,
so that a test can start a workflow *on this executor*: the PENDING row then carries this
process's executor id, which is what a Conductor ``recovery`` request later names.

It is the application of every Python client in ``tests/clients/catalog.py`` (dbos 2.31.1 and
3.2.0 with their own Conductor client; dbos 3.3 and 3.4 through ``baton_connector``), whose shared
contract ``tests/clients/__init__.py`` documents; the details follow.

With ``BATON_TEST_CONNECTOR=1`` the app connects the way an application on dbos 3.3+ does: DBOS
gets no conductor URL or key but a unique ``executor_id`` (a fresh uuid, as DBOS picks one when a
key is set), and ``baton_connector.connect(url, key)`` runs after ``DBOS.launch()``; on SIGTERM
``handle.stop()`` follows ``DBOS.destroy()``. ``BATON_TEST_CONNECTOR_RECOVERY`` (a
``baton_connector.Strategy`` value) forces its recovery path.

Control contract (the harness in ``harness.py`` is the only client):

* stdout line ``READY <executor_id> <control_port>`` once ``DBOS.launch()`` returned and the
  control server listens. DBOS logs go to stderr; nothing else is printed to stdout.
* ``GET /executor`` -> ``{"executor_id", "app_version", "app_name"}``
* ``POST /start?workflow=<name>&id=<workflow_id>&<param>=<value>...`` -> ``{"workflow_id"}``
* ``GET /status?id=<workflow_id>`` -> ``{"workflow_id", "status", "executor_id",
  "app_version", "output", "error"}`` or 404
* SIGTERM shuts down promptly (no drain); SIGKILL is how tests simulate a crash.

* ``POST /start_many?workflow=<name>&prefix=<p>&first=<i>&count=<n>&<param>=<value>...`` ->
  ``{"started": n}``: starts ``n`` workflows ``<p><i>`` .. ``<p><i+n-1>``, all with the same
  parameters, in one request (a benchmark's load generator: one HTTP request per workflow tops
  out near 100 starts/s here).
* ``POST /start?...&queue=serial`` enqueues instead, on the queue ``serial`` (one at a time
  across the app's executors), so the workflows behind the first stay ENQUEUED.
* ``POST /cancel?id=<workflow_id>`` -> ``{"workflow_id"}`` (``DBOS.cancel_workflow``).
* ``POST /send?id=<workflow_id>&message=<text>[&topic=<topic>]`` -> ``{"workflow_id"}``
  (``DBOS.send`` from outside any workflow: a notification for ``DBOS.recv``).
* ``GET /events?id=<workflow_id>`` -> ``{"events": {key: value}}`` (``DBOS.get_all_events``).
* ``GET /forks?id=<workflow_id>`` -> ``{"workflow_ids": [...]}``: the workflows forked from it
  (``DBOS.list_workflows(forked_from=...)``, oldest first).
* ``GET /schedules`` -> ``{"schedules": [{"schedule_name", "workflow_name", "schedule",
  "status"}]}`` (``DBOS.list_schedules``).

Workflows: ``multi_step(n, step_seconds)`` appends ``"<workflow_id> <step_no> <executor_id>"``
to ``<marker_dir>/<workflow_id>.steps`` in each step and then sleeps. Step ``k`` is DBOS
function_id ``k`` (the workflow does nothing else), so a fork from ``start_step=k`` copies
steps ``1..k-1`` and re-runs ``k..n``: the fork's own marker file (it has a new workflow id)
holds steps ``k..n`` only. ``parent(n, step_seconds)`` runs ``multi_step`` as the child workflow
``<workflow_id>-child`` and returns ``"parent of <its result>"``. ``quick(x)`` returns ``x * 2``;
``failing(message)`` runs one step and raises ``RuntimeError(message)``; ``big(size)`` returns
``size`` characters.

``chatty(topic, timeout_s)`` uses every DBOS communication primitive: it sets the events
``stage`` = ``"waiting"``, writes ``"started"`` to the stream ``log``, waits up to
``timeout_s`` for a notification on ``topic`` (``DBOS.recv``), then sets ``stage`` =
``"done"`` and ``received`` = the message (``None`` on timeout), writes ``"got <message>"``,
closes ``log`` and returns the message.

Schedules: after launch the app applies (``DBOS.apply_schedules``, an idempotent upsert, so
every executor of an app may do it) the schedule ``SCHEDULE_NAME`` running ``ticking`` at
``SCHEDULE_CRON`` (yearly: it never fires during a test unless triggered or backfilled). DBOS
2.31.1 lists only these stored schedules to a conductor (``list_schedules`` reads the
``workflow_schedules`` table); ``@DBOS.scheduled`` decorators are not stored there. ``ticking``
appends ``"<workflow_id> 1 <executor_id>"`` to its marker file.

This script is standalone: it must not import anything from ``tests`` or Baton.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dbos import DBOS, DBOSConfig, Queue, SetWorkflowID
from dbos._error import DBOSException

logger = logging.getLogger("baton_test.executor_app")

#: Hard cap on SIGTERM handling; past it the process exits anyway.
SHUTDOWN_DEADLINE_S = 5.0

SCHEDULE_NAME = "yearly-tick"
"""The one schedule every executor applies (see the module docstring)."""
SCHEDULE_CRON = "0 0 0 1 1 *"
"""Six-field cron (seconds first): midnight UTC on January 1st."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AppSettings:
    """Everything the app reads from its environment, read once in ``main``."""

    app_name: str
    """DBOS application name (also the Conductor websocket path segment)."""
    system_db_url: str
    """postgresql:// URL of the DBOS system database."""
    conductor_url: str | None
    """Conductor base URL (``ws://host:port``); ``None`` runs without a conductor."""
    conductor_key: str | None
    """Conductor API key; when set, DBOS uses a fresh uuid as executor id."""
    app_version: str | None
    """DBOS application version; ``None`` lets DBOS hash the workflow source."""
    marker_dir: Path
    """Directory receiving one ``<workflow_id>.steps`` file per workflow."""
    control_port: int
    """Port of the HTTP control server on 127.0.0.1; 0 picks a free one."""
    log_level: str
    """DBOS log level."""
    use_connector: bool = False
    """Connect through ``baton_connector`` after launch instead of DBOS's own client."""
    connector_recovery: str | None = None
    """A ``baton_connector.Strategy`` value forcing the connector's recovery path."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AppSettings:
        """Build settings from ``BATON_TEST_*`` variables.

        Raises:
            KeyError: a required variable is missing.
        """
        return cls(
            app_name=env["BATON_TEST_APP_NAME"],
            system_db_url=env["BATON_TEST_SYSTEM_DB_URL"],
            conductor_url=env.get("BATON_TEST_CONDUCTOR_URL") or None,
            conductor_key=env.get("BATON_TEST_CONDUCTOR_KEY") or None,
            app_version=env.get("BATON_TEST_APP_VERSION") or None,
            marker_dir=Path(env["BATON_TEST_MARKER_DIR"]),
            control_port=int(env.get("BATON_TEST_CONTROL_PORT") or "0"),
            log_level=env.get("BATON_TEST_LOG_LEVEL") or "INFO",
            use_connector=env.get("BATON_TEST_CONNECTOR") == "1",
            connector_recovery=env.get("BATON_TEST_CONNECTOR_RECOVERY") or None,
        )


# Steps run on DBOS worker threads and need the marker directory; both are set once in main().
_marker_dir: Path | None = None
_app_name: str | None = None


def _append_marker(workflow_id: str, step_no: int) -> None:
    assert _marker_dir is not None, "marker dir is set before DBOS.launch()"
    line = f"{workflow_id} {step_no} {DBOS.executor_id}\n"
    # One write + fsync per line so a SIGKILL right after the step never loses its marker.
    with (_marker_dir / f"{workflow_id}.steps").open("a", encoding="utf-8") as marker:
        marker.write(line)
        marker.flush()
        os.fsync(marker.fileno())


@DBOS.step()
def marked_step(workflow_id: str, step_no: int, step_seconds: float) -> str:
    """Record that this executor ran step ``step_no``, then hold the step open."""
    _append_marker(workflow_id, step_no)
    threading.Event().wait(step_seconds)
    return str(DBOS.executor_id)


@DBOS.workflow()
def multi_step(n: int, step_seconds: float) -> str:
    """Run ``n`` marked steps; return which executor completed each one."""
    workflow_id = str(DBOS.workflow_id)
    ran_by = [marked_step(workflow_id, step_no, step_seconds) for step_no in range(1, n + 1)]
    return f"{workflow_id} ran {n} steps: {' '.join(ran_by)}"


@DBOS.workflow()
def parent(n: int, step_seconds: float) -> str:
    """Run ``multi_step`` as the child workflow ``<workflow_id>-child``; return its result."""
    with SetWorkflowID(f"{DBOS.workflow_id}-child"):
        child = DBOS.start_workflow(multi_step, n, step_seconds)
    return f"parent of {child.get_result()}"


@DBOS.workflow()
def quick(x: int) -> int:
    """Return ``x * 2``: the cheapest possible workflow."""
    return x * 2


@DBOS.step()
def prepare(message: str) -> int:
    """A step that succeeds, so a failed workflow still has a step to show."""
    return len(message)


@DBOS.workflow()
def failing(message: str) -> None:
    """Run one step, then fail with ``message`` (the workflow ends in ERROR)."""
    prepare(message)
    raise RuntimeError(message)


@DBOS.workflow()
def big(size: int) -> str:
    """Return ``size`` characters: an output larger than Baton stores."""
    return "x" * size


@DBOS.workflow()
def chatty(topic: str, timeout_s: float) -> str | None:
    """Set events, write a stream and wait for a notification (see the module docstring)."""
    DBOS.set_event("stage", "waiting")
    DBOS.write_stream("log", "started")
    message: str | None = DBOS.recv(topic, timeout_seconds=timeout_s)
    DBOS.set_event("stage", "done")
    DBOS.set_event("received", message)
    DBOS.write_stream("log", f"got {message}")
    DBOS.close_stream("log")
    return message


@DBOS.step()
def tick_step(workflow_id: str) -> None:
    _append_marker(workflow_id, 1)


@DBOS.workflow()
def ticking(scheduled_at: datetime, context: Any) -> None:
    """The scheduled workflow: one marked step (DBOS passes the fire time and the context)."""
    tick_step(str(DBOS.workflow_id))


SERIAL_QUEUE = "serial"
"""One workflow at a time across the app: the ones behind it stay ENQUEUED."""

_register_queue: Callable[..., Queue] | None = getattr(DBOS, "register_queue", None)
"""dbos 3.x keeps queues in the system database: ``DBOS.register_queue`` after launch (its
``Queue`` refuses direct construction). dbos 2.x declares ``Queue`` objects before launch."""

QUEUES: dict[str, Queue] = (
    {} if _register_queue is not None else {SERIAL_QUEUE: Queue(SERIAL_QUEUE, concurrency=1)}
)


def register_queues() -> None:
    """After launch, on dbos 3.x: register the queues (an idempotent upsert per executor)."""
    if _register_queue is not None:
        QUEUES[SERIAL_QUEUE] = _register_queue(SERIAL_QUEUE, global_concurrency=1)


# Workflow name -> (function, {query parameter: converter}).
WORKFLOWS: dict[str, tuple[Callable[..., Any], dict[str, Callable[[str], Any]]]] = {
    "multi_step": (multi_step, {"n": int, "step_seconds": float}),
    "quick": (quick, {"x": int}),
    "parent": (parent, {"n": int, "step_seconds": float}),
    "failing": (failing, {"message": str}),
    "big": (big, {"size": int}),
    "chatty": (chatty, {"topic": str, "timeout_s": float}),
}


def start_workflow(
    name: str, workflow_id: str, raw_params: Mapping[str, str], queue: str | None = None
) -> None:
    """Start workflow ``name`` on this executor under ``workflow_id`` (or enqueue it).

    Raises:
        KeyError: unknown workflow, queue or missing parameter.
        ValueError: a parameter does not convert.
    """
    fn, param_types = WORKFLOWS[name]
    kwargs = {key: convert(raw_params[key]) for key, convert in param_types.items()}
    with SetWorkflowID(workflow_id):
        if queue is None:
            DBOS.start_workflow(fn, **kwargs)
        else:
            QUEUES[queue].enqueue(fn, **kwargs)


def apply_schedules() -> None:
    """Create (or replace) this app's schedule; every executor may do it (an upsert)."""
    DBOS.apply_schedules(
        [{"schedule_name": SCHEDULE_NAME, "workflow_fn": ticking, "schedule": SCHEDULE_CRON}]
    )


def describe_schedules() -> list[dict[str, Any]]:
    """This app's stored schedules, as a conductor would list them."""
    return [
        {
            "schedule_name": schedule["schedule_name"],
            "workflow_name": schedule["workflow_name"],
            "schedule": schedule["schedule"],
            "status": schedule["status"],
        }
        for schedule in DBOS.list_schedules()
    ]


def forks_of(workflow_id: str) -> list[str]:
    """Ids of the workflows forked from ``workflow_id``, oldest first."""
    forks = DBOS.list_workflows(forked_from=workflow_id, load_input=False, load_output=False)
    return [status.workflow_id for status in forks]


def describe_workflow(workflow_id: str) -> dict[str, Any] | None:
    """Return the JSON-ready status of ``workflow_id``, or ``None`` if unknown."""
    status = DBOS.get_workflow_status(workflow_id)
    if status is None:
        return None
    return {
        "workflow_id": status.workflow_id,
        "status": status.status,
        "executor_id": status.executor_id,
        "app_version": status.app_version,
        "output": None if status.output is None else repr(status.output),
        "error": None if status.error is None else repr(status.error),
    }


class ControlHandler(BaseHTTPRequestHandler):
    """HTTP control endpoints; see the module docstring for the contract."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        match url.path:
            case "/executor":
                self._reply(200, executor_info())
            case "/status":
                self._reply_status(query.get("id", ""))
            case "/events":
                self._reply(200, {"events": DBOS.get_all_events(query.get("id", ""))})
            case "/forks":
                self._reply(200, {"workflow_ids": forks_of(query.get("id", ""))})
            case "/schedules":
                self._reply(200, {"schedules": describe_schedules()})
            case _:
                self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        match url.path:
            case "/start":
                self._start(query)
            case "/start_many":
                self._start_many(query)
            case "/cancel":
                DBOS.cancel_workflow(query.get("id", ""))
                self._reply(200, {"workflow_id": query.get("id", "")})
            case "/send":
                self._send(query)
            case _:
                self._reply(404, {"error": "not found"})

    def _reply_status(self, workflow_id: str) -> None:
        described = describe_workflow(workflow_id)
        if described is None:
            self._reply(404, {"error": "unknown workflow"})
        else:
            self._reply(200, described)

    def _start(self, query: dict[str, str]) -> None:
        workflow_id = query.pop("id", "")
        name = query.pop("workflow", "")
        queue = query.pop("queue", None)
        try:
            start_workflow(name, workflow_id, query, queue)
        except (KeyError, ValueError) as exc:
            self._reply(400, {"error": f"bad start request: {exc!r}"})
            return
        self._reply(200, {"workflow_id": workflow_id})

    def _start_many(self, query: dict[str, str]) -> None:
        name = query.pop("workflow", "")
        prefix = query.pop("prefix", "")
        try:
            first, count = int(query.pop("first", "0")), int(query.pop("count", ""))
            for number in range(first, first + count):
                start_workflow(name, f"{prefix}{number}", query)
        except (KeyError, ValueError) as exc:
            self._reply(400, {"error": f"bad start_many request: {exc!r}"})
            return
        self._reply(200, {"started": count})

    def _send(self, query: dict[str, str]) -> None:
        workflow_id = query.get("id", "")
        if "message" not in query:
            self._reply(400, {"error": "bad send request: no message"})
            return
        try:
            DBOS.send(workflow_id, query["message"], query.get("topic"))
        except DBOSException as exc:  # e.g. no such destination workflow
            self._reply(400, {"error": f"send failed: {exc!r}"})
            return
        self._reply(200, {"workflow_id": workflow_id})

    def _reply(self, code: int, body: Mapping[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # http.server writes every request to stderr by default: too noisy for benchmarks.
        logger.debug(format, *args)


def executor_info() -> dict[str, Any]:
    """Identity of this executor as DBOS reports it to a conductor."""
    return {
        "executor_id": DBOS.executor_id,
        "app_version": DBOS.application_version,
        "app_name": _app_name,
    }


def dbos_config(settings: AppSettings) -> DBOSConfig:
    """Translate settings into a DBOS config (``application_version`` works in 2.31.1)."""
    config: DBOSConfig = {
        "name": settings.app_name,
        "system_database_url": settings.system_db_url,
        "log_level": settings.log_level,
    }
    if settings.app_version is not None:
        config["application_version"] = settings.app_version
    if settings.use_connector:
        config["executor_id"] = str(uuid.uuid4())
        return config
    if settings.conductor_url is not None:
        config["conductor_url"] = settings.conductor_url
    if settings.conductor_key is not None:
        config["conductor_key"] = settings.conductor_key
    return config


def connect(settings: AppSettings) -> Callable[[], None]:
    """With the connector: connect after launch; returns what stops it (a no-op without)."""
    if not settings.use_connector or settings.conductor_url is None:
        return lambda: None
    import baton_connector  # only the connector's environments have it

    strategy = settings.connector_recovery
    handle = baton_connector.connect(
        settings.conductor_url,
        settings.conductor_key or "",
        recovery=None if strategy is None else baton_connector.Strategy(strategy),
    )
    stop: Callable[[], None] = handle.stop
    return stop


def main() -> None:
    """Launch DBOS and the control server, print READY, run until SIGTERM."""
    global _marker_dir, _app_name
    settings = AppSettings.from_env(os.environ)
    settings.marker_dir.mkdir(parents=True, exist_ok=True)
    _marker_dir = settings.marker_dir
    _app_name = settings.app_name

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signo, _frame: stop.set())
    signal.signal(signal.SIGINT, lambda _signo, _frame: stop.set())

    DBOS(config=dbos_config(settings))
    DBOS.launch()
    register_queues()
    apply_schedules()
    stop_connector = connect(settings)
    server = ThreadingHTTPServer(("127.0.0.1", settings.control_port), ControlHandler)
    server.daemon_threads = True
    serve_thread = threading.Thread(target=server.serve_forever, name="control", daemon=True)
    serve_thread.start()
    print(f"READY {DBOS.executor_id} {server.server_address[1]}", flush=True)

    # Signal handlers run in the main thread, so wait in short slices to stay responsive.
    while not stop.wait(0.2):
        pass
    shutdown(server, stop_connector)


def shutdown(server: ThreadingHTTPServer, stop_connector: Callable[[], None]) -> None:
    """Stop promptly: workflows in flight are abandoned, as after a crash."""
    # A watchdog guards against DBOS.destroy() blocking (its conductor join waits up to 10 s).
    watchdog = threading.Timer(SHUTDOWN_DEADLINE_S, os._exit, args=(3,))
    watchdog.daemon = True
    watchdog.start()
    server.shutdown()
    server.server_close()
    DBOS.destroy()
    stop_connector()  # after destroy: the session stays open while DBOS drains
    sys.stdout.flush()
    sys.stderr.flush()
    # DBOS worker threads may still sleep inside a step; interpreter exit would join them.
    os._exit(0)


if __name__ == "__main__":
    main()
