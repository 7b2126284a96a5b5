"""Hostile input at the gateway's WebSocket edge, fuzzed with hypothesis over a real socket.

Issue 10, "Hostile input".

Each property runs against one real gateway (127.0.0.1, port 0, the session's embedded broker) that
holds a well-behaved executor, ``exec-good``. For every example, a hostile session (a real
``websockets`` client, or ``RawClient`` for bytes no library would write) sends what hypothesis
drew: arbitrary frames, DBOS replies with hostile fields, an ``executor_info`` with hostile fields,
raw bytes after the upgrade, replies carrying ``exec-good``'s request ids. Meanwhile ``exec-good``
gets a recovery command per example.

What must hold, example by example: the hostile session is closed with the close code its first
offending frame calls for (1002, 1003, 1007, 1008, 1009), with our fixed reason and never our
exception text, or its frames are ignored (a well-formed frame of a type DBOS does not have gets an
error reply and the session goes on: HOUSE_STYLE §2). "Ignored" is observed, not waited for: after
its frames the session sends one binary frame, which alone closes it with 1003. And at the end:
``exec-good`` never noticed (still connected, every command delivered and answered correctly), every
hostile session that became an executor has its connect and disconnect records with the code it saw,
heartbeats still flow, the gateway never failed and nothing logged an error.

Each property keeps one gateway for all its examples (hypothesis through pytest-asyncio; the loop
runs each example). Budget: ``BATON_FUZZ_EXAMPLES`` examples per property (default 40: the module
runs in under 10 s); raise it for a deep local run, e.g. ``BATON_FUZZ_EXAMPLES=2000`` with
``-o timeout=3600`` (400 examples per property take about a minute).

Over 450 lines but one concept: the harness, the oracle (what each frame calls for), the
strategies and the properties of one fuzzer read best together.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.protocol import (
    CLOSE_INVALID_PAYLOAD,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_POLICY_VIOLATION,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_UNSUPPORTED_DATA,
    MAX_ID_CHARS,
    MAX_METADATA_BYTES,
    MessageType,
    close_reason,
)
from gateway.server import Gateway
from runtime.clock import wall_ms
from streams.ids import AppName, CommandId, ExecutorId
from streams.records import (
    CommandProgress,
    CommandStatus,
    ExecutorConnected,
    ExecutorDisconnected,
    ExecutorInfo,
    GatewayHeartbeat,
    RecoverExecutor,
)
from tests.component.gateway.fakes import (
    CommandSender,
    EventLog,
    FakeExecutor,
    KeyBook,
    RawClient,
    connected,
    executor_url,
)
from tests.eventually import eventually

pytestmark = pytest.mark.filterwarnings(
    # A failing example holding a 16 KiB frame is worth printing whole.
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)

APP = "orders"
GOOD = "exec-good"
MAX_MESSAGE_BYTES = 16 * 1024
"""The fuzzed gateway's ``max_message_bytes``: small, so that frames around it are quick to send."""
EXAMPLES = int(os.environ.get("BATON_FUZZ_EXAMPLES", "40"))
SENTINEL = b"\x00sentinel"
"""A binary frame: sent after the hostile frames, it alone closes the session (1003)."""
MESSAGE_TYPES = {m.value for m in MessageType}

Frame = tuple[str | bytes, bool]
"""A payload and whether it goes as a text frame (bytes as text: possibly invalid UTF-8)."""


# -- the arena: a gateway, a well-behaved executor, and what must stay true ------------------------


@dataclass
class Arena:
    gateway: Gateway
    key: str
    good: FakeExecutor
    events: EventLog
    commands: CommandSender
    gate: asyncio.Event
    """``exec-good`` answers each recovery request once this is set (it is, unless a test
    clears it)."""
    sent: list[RecoverExecutor] = field(default_factory=list)
    """Commands to ``exec-good`` during the storm."""
    accepted: dict[str, int] = field(default_factory=dict)
    """Hostile sessions that became executors, with the close code each one saw."""

    @property
    def url(self) -> str:
        return executor_url(self.gateway, APP, self.key)

    async def command_the_good_one(self) -> RecoverExecutor:
        command = RecoverExecutor(
            command_id=CommandId(f"cmd-{uuid.uuid4().hex[:12]}"),
            app=AppName(APP),
            target=ExecutorId(GOOD),
            target_gateway=self.gateway.config.gateway_id,
            dead_executor_id=ExecutorId("dead-executor"),
            issued_at_ms=wall_ms(),
            timeout_ms=10_000,
        )
        await self.commands.send(command)
        self.sent.append(command)
        return command

    async def hostile(
        self, frames: list[Frame], info: dict[str, Any] | None, *, busy: bool = True
    ) -> tuple[int, str]:
        """One hostile session: answers ``executor_info`` with ``info`` (unless None), sends
        ``frames`` then the sentinel; returns the close code and reason it got. ``busy``: send
        ``exec-good`` a command meanwhile."""
        if busy:
            await self.command_the_good_one()
        async with connect(self.url, compression=None, open_timeout=5, close_timeout=1) as ws:
            request = orjson.loads(await ws.recv())
            with contextlib.suppress(ConnectionClosed):
                if info is not None:
                    reply = {**info, "type": "executor_info", "request_id": request["request_id"]}
                    await ws.send(json.dumps(reply))
                for payload, text in frames:
                    await ws.send(payload, text=text)
                await ws.send(SENTINEL, text=False)
            await asyncio.wait_for(ws.wait_closed(), timeout=10)
        assert ws.close_code is not None
        return ws.close_code, ws.close_reason or ""

    def became_executor(self, executor_id: str, close_code: int) -> None:
        """A hostile session was accepted as ``executor_id``: its records must say so (checked
        once all examples ran, so that no example waits for the broker)."""
        self.accepted[executor_id] = close_code

    def connected_as(self, executor_id: str) -> ExecutorInfo | None:
        found = [
            r.session.info
            for r in self.events.of_type(ExecutorConnected)
            if r.session.info.executor_id == executor_id
        ]
        assert len(found) <= 1, found
        return found[0] if found else None

    async def nothing_was_noticed(self) -> None:
        """``exec-good`` kept working and every accepted session's records are whole."""
        for command in self.sent:
            done = await eventually(partial(_finished, self.events, command), "command done")
            assert done.status is CommandStatus.SUCCEEDED, done
            assert done.executor_id == GOOD
        assert len(self.good.requests("recovery")) == len(self.sent)
        assert self.good.ws.close_code is None
        for executor_id, code in self.accepted.items():
            info = await eventually(partial(self.connected_as, executor_id), "connected")
            assert info.metadata is None or len(orjson.dumps(info.metadata)) <= MAX_METADATA_BYTES
            gone = await eventually(partial(_left, self.events, executor_id), "disconnected")
            assert gone.close_code == code, (executor_id, gone)
        assert len(self.events.of_type(ExecutorConnected)) == len(self.accepted) + 1
        connects = [r.session for r in self.events.of_type(ExecutorConnected)]
        (good_session,) = [s for s in connects if s.info.executor_id == GOOD]
        assert _left(self.events, GOOD) is None
        storm_over_ms = wall_ms()
        await eventually(
            lambda: any(
                h.ts_ms > storm_over_ms and good_session in h.sessions
                for h in self.events.of_type(GatewayHeartbeat)
            ),
            "a heartbeat after the storm, listing exec-good",
        )
        assert not self.gateway.failed.is_set(), self.gateway.failure


def _finished(events: EventLog, command: RecoverExecutor) -> CommandProgress | None:
    done = [
        r
        for r in events.of_type(CommandProgress)
        if r.command_id == command.command_id and r.status is not CommandStatus.SENT
    ]
    assert len(done) <= 1, done
    return done[0] if done else None


def _left(events: EventLog, executor_id: str) -> ExecutorDisconnected | None:
    gone = [r for r in events.of_type(ExecutorDisconnected) if r.executor_id == executor_id]
    assert len(gone) <= 1, gone
    return gone[0] if gone else None


@pytest.fixture
async def arena(
    make_gateway: Callable[..., Gateway],
    keys: KeyBook,
    events: EventLog,
    commands: CommandSender,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[Arena]:
    """The gateway and ``exec-good``, shared by every example of a property; once all ran,
    what must stay true is checked (a failure there is reported as an error in teardown)."""
    _, key = await keys.create(APP)
    gateway = make_gateway(max_message_bytes=MAX_MESSAGE_BYTES)
    gate = asyncio.Event()
    gate.set()
    async with gateway:
        good = FakeExecutor(executor_url(gateway, APP, key), GOOD, hold_recovery=gate)
        async with good:
            await connected(events, GOOD)
            arena = Arena(gateway, key, good, events, commands, gate)
            yield arena
            gate.set()
            await arena.nothing_was_noticed()
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    errors += [r for r in caplog.get_records("teardown") if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # One gateway for all examples of a property, on purpose: the point is that it lives on.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


# -- what a frame calls for -----------------------------------------------------------------------


def close_for(frame: Frame) -> tuple[int, bool] | None:
    """The close code the gateway must answer ``frame`` with, and whether the gateway's own
    checks (not websockets') decide it; None: it must ignore the frame.

    The protocol, restated: too big, 1009; binary, 1003; not UTF-8 or not a JSON object, 1007;
    no string ``type`` and ``request_id``, 1002; a type DBOS does not have, an error reply (the
    session stays open), unless the type or the request id is over ``MAX_ID_CHARS``, 1008; else a
    reply to a request never made (the gateway's request ids are random per session), ignored.
    """
    payload, text = frame
    data = payload.encode() if isinstance(payload, str) else payload
    if len(data) > MAX_MESSAGE_BYTES:
        return CLOSE_MESSAGE_TOO_BIG, False
    if not text:
        return CLOSE_UNSUPPORTED_DATA, True
    try:
        data.decode()
    except UnicodeDecodeError:
        return CLOSE_INVALID_PAYLOAD, False
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        return CLOSE_INVALID_PAYLOAD, True
    if not isinstance(message, dict):
        return CLOSE_INVALID_PAYLOAD, True
    type_, request_id = message.get("type"), message.get("request_id")
    if not isinstance(type_, str) or not isinstance(request_id, str):
        return CLOSE_PROTOCOL_ERROR, True
    if type_ in MESSAGE_TYPES:
        return None
    too_long = len(type_) > MAX_ID_CHARS or len(request_id) > MAX_ID_CHARS
    return (CLOSE_POLICY_VIOLATION, True) if too_long else None


def assert_closed_as_expected(frames: list[Frame], code: int, reason: str) -> None:
    """The first frame that calls for a close decides; if none does, the sentinel (1003). When
    the gateway's own check decided, the reason is that code's fixed one, never exception text.

    One exception: websockets reads frames ahead of the handler (and checks UTF-8 only when the
    handler takes the message), so a later frame over the size limit may be refused (1009) before
    an earlier offending frame is handled.
    """
    verdicts = [close_for(frame) for frame in frames]
    first = next((i for i, v in enumerate(verdicts) if v is not None), len(frames))
    decided = verdicts[first] if first < len(frames) else None
    expected, ours = decided or (CLOSE_UNSUPPORTED_DATA, True)  # None: the sentinel decides
    later_too_big = any(v == (CLOSE_MESSAGE_TOO_BIG, False) for v in verdicts[first + 1 :])
    if code == CLOSE_MESSAGE_TOO_BIG and later_too_big:
        return
    assert code == expected, (code, reason)
    if ours:
        assert reason == close_reason(code)


# -- strategies -----------------------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def padded_to(message: str, size: int) -> str:
    """``message`` (a JSON object) with a ``pad`` field making it ``size`` bytes if it can."""
    pad = max(0, size - len(message.encode()) - len(',"pad":""'))
    return message[:-1] + ',"pad":"' + "x" * pad + '"}'


hostile_text = (
    st.text(max_size=30)
    | st.text(st.sampled_from('\x00\x01\n\x7f\u2028\ufeffé\U0001f600"\\'), max_size=30)
    | st.integers(0, 600).map(lambda n: "é" * n)
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | hostile_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(hostile_text, children),
    max_leaves=10,
)
type_field = st.sampled_from(sorted(MESSAGE_TYPES)) | hostile_text | json_values
request_id_field = st.uuids().map(str) | hostile_text | json_values


@st.composite
def dbos_frames(draw: st.DrawFn) -> Frame:
    """A DBOS-shaped reply with hostile fields: wrong types, NUL, unknown types, missing ids,
    deep nesting, sizes around ``max_message_bytes``."""
    message: dict[str, Any] = draw(st.dictionaries(hostile_text, json_values, max_size=4))
    for name, values in (("type", type_field), ("request_id", request_id_field)):
        if draw(st.integers(0, 9)) > 0:  # mostly present
            message[name] = draw(values)
    text = json.dumps(message, ensure_ascii=draw(st.booleans()))
    match draw(st.sampled_from(["plain", "deep", "near max size", "raw NUL"])):
        case "deep":  # orjson reads 1024 levels at most
            text = (
                text[:-1]
                + (", " if message else "")
                + f'"deep": {nested(draw(st.integers(0, 1500)))}}}'
            )
        case "near max size":
            text = padded_to(text, MAX_MESSAGE_BYTES + draw(st.integers(-64, 64)))
        case "raw NUL":  # unescaped control characters are not JSON
            text = text.replace("\\u0000", "\x00")
    return text, True


arbitrary_frames = st.tuples(st.binary(max_size=300), st.booleans()) | st.tuples(
    st.text(max_size=300), st.just(True)
)
"""Random bytes as text or binary frames (mostly invalid UTF-8 as text), and random text."""
big_frames = st.tuples(
    st.integers(MAX_MESSAGE_BYTES - 64, MAX_MESSAGE_BYTES + 64).map(lambda n: b"\xff" * n),
    st.booleans(),
)
"""Frames around ``max_message_bytes``: accepted by the framing, then refused, or 1009."""


# -- properties -----------------------------------------------------------------------------------


async def send_frames(arena: Arena, frames: list[Frame], handshake: bool) -> None:
    """Send ``frames`` from a session that said who it is first (or not): closed as they call
    for, and when it became an executor, its records say how it left."""
    executor_id = f"hostile-{uuid.uuid4().hex[:8]}"
    info = {"executor_id": executor_id, "application_version": "v1"}
    code, reason = await arena.hostile(frames, info if handshake else None)
    assert_closed_as_expected(frames, code, reason)
    if handshake:
        arena.became_executor(executor_id, code)


@fuzz
@given(
    frames=st.lists(arbitrary_frames | big_frames | dbos_frames(), min_size=1, max_size=3),
    handshake=st.booleans(),
)
async def test_arbitrary_frames_close_cleanly_or_are_ignored(
    arena: Arena, frames: list[Frame], handshake: bool
) -> None:
    await send_frames(arena, frames, handshake)


@fuzz
@given(frames=st.lists(dbos_frames(), min_size=1, max_size=4), handshake=st.booleans())
async def test_dbos_frames_with_hostile_fields_close_cleanly_or_are_ignored(
    arena: Arena, frames: list[Frame], handshake: bool
) -> None:
    await send_frames(arena, frames, handshake)


hostile_ids = (
    st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=20).map(
        lambda s: f"hostile-{s}"
    )
    | hostile_text
    | json_values
    | st.integers(MAX_ID_CHARS - 2, MAX_ID_CHARS + 2).map(lambda n: "h" * n)
)
metadata = st.one_of(
    st.none(),
    json_values,
    # Deeper than any record can be written (orjson: 254 levels), or near it.
    st.integers(200, 400).map(lambda d: {"deep": json.loads(nested(d))}),
    # Repeated in every heartbeat of the app: large metadata must not ride along.
    st.integers(1000, 8000).map(lambda n: {"pad": "x" * n}),
)
info_fields = st.fixed_dictionaries(
    {"executor_id": hostile_ids, "executor_metadata": metadata},
    optional={
        "application_version": hostile_ids,
        "hostname": hostile_text | json_values,
        "language": hostile_text | json_values,
        "dbos_version": hostile_text | json_values,
    },
)


def unique(value: object) -> object:
    """A string id made unique (same length when it can be), so no two examples share an
    executor id; the empty string and other types stay as they are."""
    if not isinstance(value, str) or not value:
        return value
    tag = "~" + uuid.uuid4().hex[:6]
    return value[: -len(tag)] + tag if len(value) > len(tag) else value + tag


@fuzz
@given(fields=info_fields)
async def test_executor_info_with_hostile_fields_is_refused_or_bounded(
    arena: Arena, fields: dict[str, Any]
) -> None:
    info = {"application_version": "v1", **fields, "executor_id": unique(fields["executor_id"])}
    code, reason = await arena.hostile([], info)
    if code == CLOSE_UNSUPPORTED_DATA:  # accepted: only the sentinel closed it
        arena.became_executor(info["executor_id"], code)
    elif code == CLOSE_MESSAGE_TOO_BIG:  # the reply also carries the request id (~30 bytes)
        assert len(json.dumps(info).encode()) > MAX_MESSAGE_BYTES - 100
    else:
        assert code in {CLOSE_PROTOCOL_ERROR, CLOSE_POLICY_VIOLATION}, (code, reason)
        assert reason == close_reason(code)
    sent_id = fields["executor_id"]
    plain = isinstance(sent_id, str) and sent_id.startswith("hostile-")
    if plain and info["application_version"] == "v1":
        assert code == CLOSE_UNSUPPORTED_DATA, "a plain executor_info was refused"


@fuzz
@given(chunks=st.lists(st.binary(max_size=200), min_size=1, max_size=4))
async def test_raw_bytes_after_the_upgrade_never_crash_a_session(
    arena: Arena, chunks: list[bytes]
) -> None:
    await arena.command_the_good_one()
    client = await RawClient.open(arena.gateway.port)
    try:
        assert await client.upgrade(f"/websocket/{APP}/{arena.key}") == 101
        assert (await client.read_json())["type"] == "executor_info"
        with contextlib.suppress(ConnectionError):
            for chunk in chunks:
                await client.send_raw(chunk)
            client.writer.write_eof()  # whatever frame was left unfinished stays so
        code = await asyncio.wait_for(client.close_code(), timeout=10)
    finally:
        client.close()
    # A clear close code (or the echo of a close frame the bytes happened to hold), or the
    # connection dropped at the end of input; never an internal error.
    assert code != 1011


forged_replies = st.fixed_dictionaries(
    {"success": st.booleans(), "error_message": hostile_text | st.none()},
    optional={"executor_id": st.just(GOOD), "application_version": st.just("v1")},
)


@fuzz
@given(
    which=st.sampled_from(["pending", "answered", "executor_info"]),
    forged=forged_replies,
    handshake=st.booleans(),
)
async def test_replies_with_another_sessions_request_ids_are_ignored(
    arena: Arena, which: str, forged: dict[str, Any], handshake: bool
) -> None:
    """Session B answers with the request ids the gateway sent session A (``exec-good``): B is
    ignored, and A's requests are still answered by A alone."""
    good = arena.good
    arena.gate.clear()
    command = await arena.command_the_good_one()
    await eventually(
        lambda: len(good.requests("recovery")) == len(arena.sent), "exec-good holds the request"
    )
    target = {
        "pending": good.requests("recovery")[-1],
        "answered": (good.requests("recovery")[:-1] or good.received[:1])[-1],
        "executor_info": good.requests("executor_info")[0],
    }[which]
    reply = {**forged, "type": target["type"], "request_id": target["request_id"]}
    executor_id = f"forger-{uuid.uuid4().hex[:8]}"
    info = {"executor_id": executor_id, "application_version": "v1"}
    code, _ = await arena.hostile(
        [(json.dumps(reply), True)], info if handshake else None, busy=False
    )
    assert code == CLOSE_UNSUPPORTED_DATA  # ignored: only the sentinel closed it
    if handshake:
        arena.became_executor(executor_id, code)
    arena.gate.set()
    done = await eventually(lambda: _finished(arena.events, command), "command done")
    assert done.status is CommandStatus.SUCCEEDED  # A's own answer, not B's forgery
