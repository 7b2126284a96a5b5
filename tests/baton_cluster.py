"""Baton's roles as real processes for conformance tests and benchmarks: ``baton worker``,
``baton gateway`` and ``baton console`` on a given broker, exactly as a deployment runs them.

Once started, the cluster has an admin API token, ``tests.console_access.TESTER``, made as a user
makes one (``baton tokens create``): every console call made through the cluster sends it, and
the ``baton`` commands it runs get it as ``BATON_TOKEN``, so the console's actor is
``token:tester``.

No pytest imports here: benchmarks use it too.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from uuid import uuid4

from aiokafka import AIOKafkaProducer

from baton.children import die_with_parent
from broker.log_reader import from_beginning
from store.roles import Role
from streams.codec import decode, encode, record_key
from streams.records import Record
from tests.console_access import TESTER
from tests.eventually import assert_eventually

ROLE_START_TIMEOUT_S = 60.0
_READY_TEXT = {"worker": "worker ready", "gateway": "listening on", "console": "console listening"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RoleProcess:
    """One role's process, its log file and its command line."""

    role: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.args,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.process.returncode


class BatonCluster:
    """Worker, gateway and console processes sharing a broker, a topic prefix and a store."""

    def __init__(
        self,
        kafka_bootstrap: str,
        workdir: Path,
        env: dict[str, str] | None = None,
        gateways: int = 1,
        workers: int = 1,
        database_url: str | None = None,
        role_kafka: dict[str, str] | None = None,
    ):
        self.kafka_bootstrap = kafka_bootstrap
        self.role_kafka = role_kafka or {}
        """Role name (``gateway2``) -> the bootstrap it is given instead of ``kafka_bootstrap``
        (e.g. through proxies the test controls)."""
        self.workdir = workdir
        self.topic_prefix = f"c{uuid4().hex[:8]}."
        self.gateway_ports = [free_port() for _ in range(gateways)]
        self.gateway_port = self.gateway_ports[0]
        self.workers = workers
        self.worker_ports = [free_port() for _ in range(workers)]
        """Each worker's HTTP port (``/metrics``, ``/healthz``, ``/readyz``)."""
        self.console_port = free_port()
        self.database_url = database_url or f"sqlite+aiosqlite:///{workdir / 'baton.db'}"
        """The store: SQLite under ``workdir`` unless a (PostgreSQL) URL is given."""
        self.env = {
            **os.environ,
            "BATON_TOPIC_PREFIX": self.topic_prefix,
            "BATON_LOG_LEVEL": "INFO",
            **(env or {}),
        }
        self.roles: dict[str, RoleProcess] = {}
        self.token: str | None = None
        """The plaintext of the admin token ``TESTER`` (made by ``start``)."""
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def conductor_url(self) -> str:
        return f"ws://127.0.0.1:{self.gateway_port}"

    def conductor_url_of(self, gateway_index: int) -> str:
        return f"ws://127.0.0.1:{self.gateway_ports[gateway_index]}"

    def _role(self, name: str, *extra: str) -> RoleProcess:
        role = name.rstrip("0123456789")
        args = [
            sys.executable,
            "-m",
            "baton",
            role,
            "--kafka",
            self.role_kafka.get(name, self.kafka_bootstrap),
            "--database-url",
            self.database_url,
            "--data-dir",
            str(self.workdir),
            *extra,
        ]
        return RoleProcess(role, args, self.env, self.workdir / f"{name}.log")

    def start(self) -> BatonCluster:
        for name, args in self._role_args.items():
            self.roles[name] = self._role(name, *args)
            self.roles[name].start()
        for name in self._role_args:
            self.wait_for_log(name, _READY_TEXT[name.rstrip("0123456789")])
        self._make_tester_token()
        return self

    def start_up(self, *, embedded_broker: bool = False) -> BatonCluster:
        """Run every role under one ``baton up`` supervisor process (role ``up``) instead of one
        process per role; ``stop()`` sends it SIGTERM like the others.

        Args:
            embedded_broker: let ``baton up`` run its embedded broker, on the port of the
                cluster's ``kafka_bootstrap`` (``--broker-port``), instead of ``--kafka``.
        """
        broker = (
            ["--broker-port", self.kafka_bootstrap.rpartition(":")[2]]
            if embedded_broker
            else ["--kafka", self.kafka_bootstrap]
        )
        args = [
            sys.executable,
            "-m",
            "baton",
            "up",
            *broker,
            "--database-url",
            self.database_url,
            "--data-dir",
            str(self.workdir),
            "--gateway-port",
            str(self.gateway_port),
            "--console-port",
            str(self.console_port),
            "--worker-port",
            str(self.worker_ports[0]),
        ]
        self.roles["up"] = RoleProcess("up", args, self.env, self.workdir / "up.log")
        self.roles["up"].start()
        self.wait_for_log("up", "Baton is up")
        self._make_tester_token()
        return self

    def _make_tester_token(self) -> None:
        if self.token is None:
            self.token = self.create_token(TESTER, Role.ADMIN)

    @property
    def _role_args(self) -> dict[str, tuple[str, ...]]:
        extra_gateways = {
            f"gateway{i}": ("--port", str(port)) for i, port in enumerate(self.gateway_ports[1:], 2)
        }
        extra_workers: dict[str, tuple[str, ...]] = {
            f"worker{i}": ("--port", str(self.worker_ports[i - 1]))
            for i in range(2, self.workers + 1)
        }
        return {
            "worker": ("--port", str(self.worker_ports[0])),
            **extra_workers,
            "gateway": ("--port", str(self.gateway_port)),
            **extra_gateways,
            "console": ("--port", str(self.console_port)),
        }

    def wait_for_log(self, role: str, text: str, timeout_s: float = ROLE_START_TIMEOUT_S) -> None:
        process = self.roles[role]

        def started() -> bool:
            assert process.process is not None
            if process.process.poll() is not None:
                raise AssertionError(f"baton {role} exited:\n{process.tail()}")
            return text in process.log_text()

        assert_eventually(
            started, timeout_s=timeout_s, interval_s=0.1, message=f"baton {role}: {text!r}"
        )

    def restart(self, role: str, sig: int = signal.SIGTERM) -> None:
        """Stop a role (SIGTERM: clean; SIGKILL: it dies) and start a new process for it."""
        self.roles[role].stop(sig)
        log = self.roles[role].log_path
        log.rename(log.with_suffix(f".{int(time.time() * 1000)}.log"))
        self.roles[role] = self._role(role, *self._role_args[role])
        self.roles[role].start()
        self.wait_for_log(role, _READY_TEXT[role.rstrip("0123456789")])

    def restart_gateway(self, sig: int = signal.SIGTERM) -> None:
        self.restart("gateway", sig)

    def stop(self) -> None:
        for name in reversed(list(self.roles)):
            self.roles[name].stop()

    def __enter__(self) -> BatonCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- clients -----------------------------------------------------------------------------

    def cli(self, *args: str) -> str:
        """Run ``baton ARGS`` against this cluster's store; returns stdout."""
        result = subprocess.run(
            [sys.executable, "-m", "baton", *args, "--database-url", self.database_url],
            env=self.client_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"baton {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def create_key(self, app: str) -> str:
        return self.cli("keys", "create", app).strip().splitlines()[-1]

    def create_token(self, name: str, role: Role) -> str:
        """``baton tokens create NAME --role ROLE``; returns the plaintext (its last line)."""
        return self.cli("tokens", "create", name, "--role", role.value).strip().splitlines()[-1]

    @property
    def auth_headers(self) -> dict[str, str]:
        """The ``Authorization`` header of the admin token ``TESTER``."""
        if self.token is None:
            raise AssertionError("the cluster has no token yet: start it first")
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def client_env(self) -> dict[str, str]:
        """The environment of the ``baton`` commands run against the cluster: ``BATON_TOKEN``
        is the admin token once the cluster has one."""
        return self.env if self.token is None else {**self.env, "BATON_TOKEN": self.token}

    def api(self, path: str) -> Any:
        """GET ``path`` on the console as ``TESTER``; its JSON.

        Raises:
            urllib.error.HTTPError: an error status.
        """
        request = urllib.request.Request(f"{self.console_url}{path}", headers=self.auth_headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """GET ``path`` on the console as ``TESTER`` (``headers`` override its ``Authorization``);
        returns ``(status, json)`` for error statuses too."""
        return self._http("GET", path, None, headers)

    def post(
        self, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """POST ``body`` as JSON to ``path`` on the console as ``TESTER`` (``headers`` override its
        ``Authorization``); returns ``(status, json)`` for error statuses too (a body that is not
        JSON comes back as ``{"text": ...}``)."""
        return self._http("POST", path, {} if body is None else body, headers)

    def _http(
        self, method: str, path: str, body: Any, headers: dict[str, str] | None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.console_url}{path}",
            data=data,
            method=method,
            headers={
                "Content-Type": "application/json",
                **self.auth_headers,
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, _json_or_text(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _json_or_text(exc.read())

    def baton(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``baton ARGS`` as given (no store option added, ``BATON_TOKEN`` set); never raises
        on failure."""
        return subprocess.run(
            [sys.executable, "-m", "baton", *args],
            env=self.client_env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def executors(self, app: str) -> dict[str, dict[str, Any]]:
        return {e["executor_id"]: e for e in self.api(f"/api/v1/apps/{app}/executors")}

    def recoveries(self, app: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api(f"/api/v1/apps/{app}/recoveries")
        return result

    def audit_records(self, app: str) -> list[Record]:
        """Every record on the audit topic for ``app`` (read from the start)."""
        import asyncio

        return asyncio.run(read_topic(self.kafka_bootstrap, f"{self.topic_prefix}audit", app))

    def topic_records(self, topic: str, app: str) -> list[Record]:
        """Every record of ``app`` on this cluster's topic ``topic`` (e.g. ``replies``)."""
        import asyncio

        return asyncio.run(read_topic(self.kafka_bootstrap, f"{self.topic_prefix}{topic}", app))

    def publish(self, topic: str, record: Record, copies: int = 1) -> None:
        """Produce ``record`` ``copies`` times on this cluster's topic ``topic`` (e.g.
        ``commands``), keyed as Baton keys it: a duplicate delivery, made on purpose."""
        import asyncio

        asyncio.run(
            publish_records(self.kafka_bootstrap, f"{self.topic_prefix}{topic}", [record] * copies)
        )


async def read_topic(bootstrap: str, topic: str, app: str) -> list[Record]:
    async with from_beginning(bootstrap, topic) as (consumer, partitions):
        end = await consumer.end_offsets(partitions)
        records: list[Record] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                records.extend(decode(m.value) for m in messages)
        return [r for r in records if getattr(r, "app", None) == app]


async def publish_records(bootstrap: str, topic: str, records: list[Record]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(topic, encode(record), key=record_key(record))
    finally:
        await producer.stop()


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return {"text": raw.decode(errors="replace")}
