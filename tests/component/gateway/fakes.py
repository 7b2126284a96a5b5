"""Test doubles for the gateway's component tests: a fake DBOS executor and Kafka/key helpers.

``FakeExecutor`` answers the conductor the way ``dbos/_conductor/conductor.py`` (dbos 2.31.1) does;
``RawClient`` is a WebSocket client written by hand on a TCP stream, for what no library client
does (dribble the upgrade, write any bytes, stop reading); ``EventLog`` collects every record the
gateway publishes; ``CommandSender`` plays the recovery agent; ``KeyBook`` manages API keys in a
real store.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from broker.admin import topic_partitions
from gateway.server import Gateway
from runtime.clock import wall_ms
from store.database import Store
from store.keys import create_key, revoke_key
from streams.codec import decode, encode, record_key
from streams.ids import AppName, ExecutorId, RequestId, WorkflowId
from streams.records import ExecutorConnected, ExecutorReply, ExecutorRequest, Record, RequestKind
from tests.eventually import eventually

R = TypeVar("R")

RecoveryBehaviour = Literal["succeed", "fail", "disconnect", "silent"]


# -- Kafka ----------------------------------------------------------------------------------------


class EventLog:
    """Every record on a topic, from its first offset, collected in the background."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=20,
        )
        self._task: asyncio.Task[None] | None = None
        self.records: list[Record] = []

    async def start(self) -> None:
        await self._consumer.start()
        assigned = await topic_partitions(self._bootstrap, self._topic)
        assert assigned, f"topic {self._topic} has no partitions"
        self._consumer.assign(assigned)
        await self._consumer.seek_to_beginning(*assigned)
        self._task = asyncio.create_task(self._collect(), name=f"events {self._topic}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _collect(self) -> None:
        async for message in self._consumer:
            self.records.append(decode(message.value))

    def of_type(self, kind: type[R]) -> list[R]:
        return [r for r in self.records if isinstance(r, kind)]


@contextlib.asynccontextmanager
async def following(bootstrap: str, topic: str) -> AsyncIterator[EventLog]:
    """An ``EventLog`` of ``topic`` for the duration of the block."""
    log = EventLog(bootstrap, topic)
    await log.start()
    try:
        yield log
    finally:
        await log.stop()


class CommandSender:
    """Publishes Baton records keyed as Baton keys them: commands the way the recovery agent,
    the capture poller and the console do."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._topic = topic
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=0)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, record: Record) -> None:
        await self._producer.send_and_wait(self._topic, encode(record), key=record_key(record))


# -- key store ------------------------------------------------------------------------------------


class KeyBook:
    """Creates and revokes executor API keys in a real SQLite store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, app: str) -> tuple[str, str]:
        """Return ``(key_id, plaintext)``."""
        async with self.store.sessionmaker.begin() as session:
            row, plaintext = await create_key(session, app)
        return row.key_id, plaintext

    async def revoke(self, app: str, key_id: str) -> None:
        async with self.store.sessionmaker.begin() as session:
            assert await revoke_key(session, app, key_id)


# -- the gateway ----------------------------------------------------------------------------------


def executor_url(gateway: Gateway, app: str, key: str, prefix: str = "") -> str:
    return f"ws://127.0.0.1:{gateway.port}{prefix}/websocket/{app}/{key}"


# -- a fake DBOS executor -------------------------------------------------------------------------


class FakeExecutor:
    """A DBOS executor's conductor client, reduced to what the gateway asks of it.

    Answers ``executor_info`` and ``recovery`` with the shapes of ``dbos/_conductor/conductor.py``
    (dbos 2.31.1); ``recovery`` says what to do with recovery requests.
    """

    def __init__(
        self,
        url: str,
        executor_id: str,
        *,
        application_version: str = "v1",
        hostname: str = "fake-host",
        recovery: RecoveryBehaviour = "succeed",
        error_message: str = "Exception encountered when recovering workflows: boom",
        hold_recovery: asyncio.Event | None = None,
        language: str = "python",
        dbos_version: str = "2.31.1",
    ) -> None:
        self.url = url
        self.executor_id = executor_id
        self.language = language
        self.dbos_version = dbos_version
        self.application_version = application_version
        self.hostname = hostname
        self.recovery = recovery
        self.error_message = error_message
        self.hold_recovery = hold_recovery
        """When given, each ``recovery`` request is answered only once this event is set."""
        self.received: list[dict[str, Any]] = []
        """Every request, as soon as it arrives."""
        self.handled: list[dict[str, Any]] = []
        """Every request this fake has finished acting on (answered, ignored or left over)."""
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def ws(self) -> ClientConnection:
        assert self._ws is not None, "not connected"
        return self._ws

    def requests(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("type") == type_]

    async def __aenter__(self) -> FakeExecutor:
        self._ws = await connect(self.url, open_timeout=5)
        self._task = asyncio.create_task(self._serve(), name=f"fake {self.executor_id}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)

    async def _serve(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in self.ws:
                message = orjson.loads(text)
                self.received.append(message)
                await self._answer(message)
                self.handled.append(message)

    async def _answer(self, message: dict[str, Any]) -> None:
        if message["type"] == "executor_info":
            await self._send(
                {
                    "type": "executor_info",
                    "request_id": message["request_id"],
                    "executor_id": self.executor_id,
                    "application_version": self.application_version,
                    "hostname": self.hostname,
                    "language": self.language,
                    "dbos_version": self.dbos_version,
                    "executor_metadata": None,
                }
            )
        elif message["type"] == "recovery":
            if self.hold_recovery is not None:
                await self.hold_recovery.wait()
            if self.recovery == "silent":
                return
            if self.recovery == "disconnect":
                await self.ws.close(1001, "going away mid-request")
                return
            ok = self.recovery == "succeed"
            await self._send(
                {
                    "type": "recovery",
                    "request_id": message["request_id"],
                    "success": ok,
                    "error_message": None if ok else self.error_message,
                }
            )

    async def _send(self, message: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(message).decode())


# -- a WebSocket client by hand ------------------------------------------------------------------


class RawClient:
    """A WebSocket client on a bare TCP stream (RFC 6455 by hand, frames built by websockets).

    For what a library client will not do: dribble or never finish the HTTP upgrade, write any
    bytes as frames, and stop reading. ``receive_buffer_bytes`` shrinks the socket's receive
    buffer, so that a client that stops reading backs the gateway's sends up quickly.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, *, receive_buffer_bytes: int | None = None) -> RawClient:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer_bytes is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer_bytes)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        # A small stream limit: once 2 x limit bytes are buffered, the stream stops reading too.
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
        return cls(reader, writer)

    @staticmethod
    def upgrade_request(path: str) -> bytes:
        """The HTTP request of a WebSocket upgrade (RFC 6455 4.1), as any client sends it."""
        key = base64.b64encode(os.urandom(16)).decode()
        return (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()

    async def upgrade(self, path: str) -> int:
        """Send the upgrade request and read the response head; returns its HTTP status."""
        await self.send_raw(self.upgrade_request(path))
        head = await self.reader.readuntil(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1])

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_frame(self, opcode: Opcode, payload: bytes, *, fin: bool = True) -> None:
        """One client frame (masked, as RFC 6455 5.3 requires of a client)."""
        await self.send_raw(Frame(opcode, payload, fin=fin).serialize(mask=True))

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send_frame(Opcode.TEXT, orjson.dumps(message))

    async def read_frame(self) -> tuple[int, bytes]:
        """The next frame from the gateway (unmasked, RFC 6455 5.1): ``(opcode, payload)``."""
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        return first & 0x0F, await self.reader.readexactly(length)

    async def read_json(self) -> dict[str, Any]:
        """The next text frame, decoded (pings in between are skipped, as they go unanswered)."""
        while True:
            opcode, payload = await self.read_frame()
            if opcode == Opcode.TEXT:
                message: dict[str, Any] = orjson.loads(payload)
                return message

    async def close_code(self) -> int | None:
        """Read until the gateway closes: the code of its close frame, or ``None`` when it
        dropped the connection without one."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                opcode, payload = await self.read_frame()
                if opcode == Opcode.CLOSE:
                    return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        return None

    async def dropped(self) -> None:
        """Wait until the gateway ends the TCP connection (whatever it sent before)."""
        with contextlib.suppress(ConnectionError):
            while await self.reader.read(65536):
                pass

    def close(self) -> None:
        self.writer.close()


# -- console requests and their replies ----------------------------------------------------------


def executor_request(
    gateway: Gateway,
    kind: RequestKind,
    workflow_id: str = "",
    *,
    app: str = "orders",
    target: str = "exec-1",
    timeout_ms: int = 5_000,
    **params: Any,
) -> ExecutorRequest:
    """A console request for ``target``, held by ``gateway``, with a fresh request id."""
    return ExecutorRequest(
        request_id=RequestId(f"req-{uuid.uuid4().hex[:12]}#1"),
        app=AppName(app),
        target=ExecutorId(target),
        target_gateway=gateway.config.gateway_id,
        kind=kind,
        workflow_id=WorkflowId(workflow_id),
        issued_at_ms=wall_ms(),
        timeout_ms=timeout_ms,
        params=params,
    )


def replies_to(log: EventLog, sent: ExecutorRequest) -> list[ExecutorReply]:
    """The replies to ``sent`` the replies topic holds so far."""
    return [r for r in log.of_type(ExecutorReply) if r.request_id == sent.request_id]


async def connected(events: EventLog, executor_id: str) -> None:
    """Wait until the gateway reported ``executor_id`` connected."""
    await eventually(
        lambda: any(
            r.session.info.executor_id == executor_id for r in events.of_type(ExecutorConnected)
        ),
        f"{executor_id} connects",
    )
