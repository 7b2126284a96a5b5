"""The gateway's edges, in process: a real WebSocket server on port 0, a real Kafka, fake executors.

Covers the handshake and what it publishes, refused handshakes, bad executor input, the command
path (``RecoverExecutor`` -> DBOS ``recovery`` -> ``CommandProgress``) and draining on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from gateway.auth import Credentials
from gateway.config import GatewayConfig
from gateway.protocol import recovery_request, recovery_succeeded
from gateway.server import Gateway
from runtime.clock import wall_ms
from store.keys import create_key, list_keys
from streams.ids import AppName, CommandId, ExecutorId, GatewayId
from streams.records import (
    CommandProgress,
    CommandStatus,
    ExecutorConnected,
    ExecutorDisconnected,
    ExecutorInfo,
    GatewayHeartbeat,
    Record,
    RecoverExecutor,
)
from streams.topics import Topics
from tests.component.gateway.fakes import (
    CommandSender,
    EventLog,
    FakeExecutor,
    KeyBook,
    RawClient,
    executor_url,
)
from tests.eventually import eventually

APP = "orders"
MakeGateway = Callable[..., Gateway]


def executor_of(record: Record) -> str | None:
    """The executor a record is about (heartbeats are about many, and return None)."""
    match record:
        case ExecutorConnected():
            return record.session.info.executor_id
        case ExecutorDisconnected() | CommandProgress():
            return record.executor_id
    return None


def connected_record(events: EventLog, executor_id: str) -> ExecutorConnected | None:
    found = [
        r for r in events.of_type(ExecutorConnected) if r.session.info.executor_id == executor_id
    ]
    assert len(found) <= 1, found
    return found[0] if found else None


def disconnected_record(events: EventLog, executor_id: str) -> ExecutorDisconnected | None:
    found = [r for r in events.of_type(ExecutorDisconnected) if r.executor_id == executor_id]
    assert len(found) <= 1, found
    return found[0] if found else None


def progress(events: EventLog, command_id: str) -> list[CommandProgress]:
    return [r for r in events.of_type(CommandProgress) if r.command_id == command_id]


def finished(events: EventLog, command_id: str) -> CommandProgress | None:
    done = [r for r in progress(events, command_id) if r.status is not CommandStatus.SENT]
    return done[-1] if done else None


def recover(
    target: str,
    gateway: Gateway | str | None,
    *,
    dead: str = "dead-executor",
    timeout_ms: int = 5_000,
    app: str = APP,
) -> RecoverExecutor:
    target_gateway = gateway.config.gateway_id if isinstance(gateway, Gateway) else gateway
    return RecoverExecutor(
        command_id=CommandId(f"cmd-{uuid.uuid4().hex[:12]}"),
        app=AppName(app),
        target=ExecutorId(target),
        target_gateway=None if target_gateway is None else GatewayId(target_gateway),
        dead_executor_id=ExecutorId(dead),
        issued_at_ms=wall_ms(),
        timeout_ms=timeout_ms,
    )


async def handshake_status(url: str, executor_id: str = "exec-probe") -> int:
    """101 when the handshake succeeds (then it says who it is and leaves), else the HTTP status
    the gateway refused it with."""
    try:
        async with FakeExecutor(url, executor_id) as fake:
            await eventually(lambda: fake.handled, "executor_info answered")
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


# -- 1. handshake ---------------------------------------------------------------------------------


async def test_handshake_publishes_connect_heartbeats_and_disconnect(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        fake = FakeExecutor(
            executor_url(gateway, APP, key), "exec-1", application_version="v7", hostname="host-a"
        )
        async with fake:
            await eventually(lambda: fake.received, "a first message from the gateway")
            assert fake.received[0]["type"] == "executor_info"
            assert set(fake.received[0]) == {"type", "request_id"}

            connected = await eventually(
                lambda: connected_record(events, "exec-1"), "ExecutorConnected"
            )
            assert connected.app == APP
            assert connected.gateway == gateway.config.gateway_id
            assert connected.session.info == ExecutorInfo(
                executor_id=ExecutorId("exec-1"),
                application_version="v7",
                hostname="host-a",
                language="python",
                dbos_version="2.31.1",
                metadata=None,
            )
            conn_id = connected.session.conn_id
            assert conn_id

            def beats_listing_session() -> list[GatewayHeartbeat]:
                beats = [
                    h
                    for h in events.of_type(GatewayHeartbeat)
                    if h.app == APP and connected.session in h.sessions
                ]
                assert len(beats) >= 2, beats
                return beats

            beats = await eventually(beats_listing_session, "two heartbeats listing the session")
            assert all(b.gateway == gateway.config.gateway_id for b in beats)
            assert all(b.sessions == (connected.session,) for b in beats)

            await fake.close(1000, "bye")
            disconnected = await eventually(
                lambda: disconnected_record(events, "exec-1"), "ExecutorDisconnected"
            )
            assert disconnected == ExecutorDisconnected(
                app=AppName(APP),
                gateway=gateway.config.gateway_id,
                executor_id=ExecutorId("exec-1"),
                conn_id=conn_id,
                close_code=1000,
                close_reason="bye",
                draining=False,
                ts_ms=disconnected.ts_ms,
            )
            # The app keeps its heartbeat (its clock) with no sessions once the executor left.
            await eventually(
                lambda: any(
                    h.app == APP and h.ts_ms > disconnected.ts_ms and h.sessions == ()
                    for h in events.of_type(GatewayHeartbeat)
                ),
                "an empty heartbeat after the disconnect",
            )


# -- 2. refusals ----------------------------------------------------------------------------------


async def test_an_admitted_session_keeps_nothing_of_its_upgrade_request(
    make_gateway: MakeGateway, keys: KeyBook
) -> None:
    """Its headers cost 4.3 KB a session, and its path holds the API key."""
    _, key = await keys.create(APP)
    async with make_gateway() as gateway, FakeExecutor(executor_url(gateway, APP, key), "exec-1"):
        conn = await eventually(
            lambda: gateway._registry.get(AppName(APP), ExecutorId("exec-1")), "the session"
        )
        assert conn.ws.request is not None
        assert key not in conn.ws.request.path
        assert not list(conn.ws.request.headers.raw_items())
        assert conn.ws.response is None
        reply = await conn.request(recovery_request([ExecutorId("exec-0")]), timeout_s=5)
        assert recovery_succeeded(reply)  # the session still works


async def test_handshakes_are_admitted_only_with_a_valid_key_for_the_app(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog
) -> None:
    good_id, good = await keys.create(APP)
    _, other_apps = await keys.create("billing")
    revoked_id, revoked = await keys.create(APP)
    await keys.revoke(APP, revoked_id)
    unknown = f"bk_{'0' * 12}_{'x' * 43}"
    wrong_secret = f"bk_{good_id}_{'x' * 43}"

    async with make_gateway() as gateway:
        base = f"ws://127.0.0.1:{gateway.port}"
        cases = {
            "valid key": (f"{base}/websocket/{APP}/{good}", 101),
            "valid key under a path prefix": (f"{base}/dbos/v1/websocket/{APP}/{good}", 101),
            "unknown key": (f"{base}/websocket/{APP}/{unknown}", 403),
            "wrong secret": (f"{base}/websocket/{APP}/{wrong_secret}", 403),
            "other app's key": (f"{base}/websocket/{APP}/{other_apps}", 403),
            "revoked key": (f"{base}/websocket/{APP}/{revoked}", 403),
            "malformed key": (f"{base}/websocket/{APP}/not-a-key", 403),
            "no key segment": (f"{base}/websocket/{APP}", 404),
            "not a websocket path": (f"{base}/healthz", 404),
            "wrong path word": (f"{base}/sockets/{APP}/{good}", 404),
            "invalid app name": (f"{base}/websocket/bad%20app!/{good}", 404),
        }
        statuses = {
            name: await handshake_status(url, f"exec-{i}")
            for i, (name, (url, _)) in enumerate(cases.items())
        }
        assert statuses == {name: expected for name, (_, expected) in cases.items()}
        await eventually(lambda: len(events.of_type(ExecutorDisconnected)) == 2, "both left")
    assert sorted(r.session.info.executor_id for r in events.of_type(ExecutorConnected)) == [
        "exec-0",
        "exec-1",
    ]


async def test_refused_handshakes_are_logged_once_per_interval_per_address_with_their_count(
    make_gateway: MakeGateway, keys: KeyBook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.server")
    _, other_apps = await keys.create("billing")
    unknown = f"bk_{'1' * 12}_{'y' * 43}"

    def refusals() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "gateway.server" and hasattr(r, "refused")]

    async with make_gateway(refusal_log_interval_s=1.0) as gateway:
        for _ in range(5):
            assert await handshake_status(executor_url(gateway, APP, other_apps)) == 403
        assert await handshake_status(executor_url(gateway, APP, unknown)) == 403
        assert len(refusals()) == 1  # the first refusal; the next five wait for the interval

        started = time.monotonic()
        while len(refusals()) < 2:  # retrying four times a second, as a stubborn client would
            assert time.monotonic() - started < 10, "no second line after the interval"
            await asyncio.sleep(0.25)
            assert await handshake_status(executor_url(gateway, APP, unknown)) == 403

    first, second = refusals()
    assert [(r.levelno, r.source, r.app, r.refused) for r in (first, second)] == [  # type: ignore[attr-defined]
        (logging.WARNING, "127.0.0.1", APP, 1),
        (logging.WARNING, "127.0.0.1", APP, second.refused),  # type: ignore[attr-defined]
    ]
    assert second.refused >= 6  # type: ignore[attr-defined]
    assert first.key_fingerprint == Credentials(app=APP, key=other_apps).fingerprint  # type: ignore[attr-defined]
    assert second.key_fingerprint == Credentials(app=APP, key=unknown).fingerprint  # type: ignore[attr-defined]
    # The log names the key by fingerprint only.
    assert not any(other_apps in r.getMessage() or unknown in r.getMessage() for r in refusals())


def default_revocation_interval_s(topics: Topics) -> float:
    config = GatewayConfig(gateway_id=GatewayId("gw"), kafka_bootstrap="k:1", topics=topics)
    return config.revocation_check_interval_s


async def test_revoking_a_key_closes_its_live_session_with_1008_within_2_s(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog, topics: Topics
) -> None:
    revoked_id, revoked = await keys.create(APP)
    _, kept = await keys.create(APP)
    interval_s = default_revocation_interval_s(topics)
    assert interval_s <= 1.0
    async with make_gateway(revocation_check_interval_s=interval_s) as gateway:
        doomed = FakeExecutor(executor_url(gateway, APP, revoked), "exec-revoked")
        survivor = FakeExecutor(executor_url(gateway, APP, kept), "exec-kept")
        async with doomed, survivor:
            await eventually(lambda: connected_record(events, "exec-revoked"), "doomed connects")
            await eventually(lambda: connected_record(events, "exec-kept"), "survivor connects")

            await keys.revoke(APP, revoked_id)

            await eventually(
                lambda: doomed.ws.close_code == 1008, "the revoked session closed", timeout_s=2
            )
            assert doomed.ws.close_reason == "API key revoked"
            disconnected = await eventually(
                lambda: disconnected_record(events, "exec-revoked"), "ExecutorDisconnected"
            )
            assert disconnected.close_code == 1008
            assert disconnected.draining is False
            assert disconnected.revoked is True
            assert survivor.ws.close_code is None
            assert disconnected_record(events, "exec-kept") is None


async def test_an_expiring_key_closes_its_live_session_then_is_refused(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog
) -> None:
    expires_at = datetime.now(UTC) + timedelta(seconds=2)
    async with keys.store.sessionmaker.begin() as session:
        _, expiring = await create_key(session, APP, expires_at=expires_at)
    _, kept = await keys.create(APP)
    async with make_gateway(revocation_check_interval_s=0.2) as gateway:
        doomed = FakeExecutor(executor_url(gateway, APP, expiring), "exec-expiring")
        survivor = FakeExecutor(executor_url(gateway, APP, kept), "exec-kept")
        async with doomed, survivor:
            await eventually(lambda: connected_record(events, "exec-expiring"), "it connects")
            await eventually(lambda: doomed.ws.close_code == 1008, "the expired session closed")
            assert datetime.now(UTC) >= expires_at
            assert doomed.ws.close_reason == "API key expired"
            disconnected = await eventually(
                lambda: disconnected_record(events, "exec-expiring"), "ExecutorDisconnected"
            )
            assert disconnected.revoked is True  # locked out, not dead
            assert survivor.ws.close_code is None
        assert await handshake_status(executor_url(gateway, APP, expiring)) == 403


async def test_a_successful_handshake_notes_the_keys_last_use_once_a_minute(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog
) -> None:
    _, key = await keys.create(APP)

    async def last_used() -> datetime | None:
        async with keys.store.sessionmaker() as session:
            [row] = await list_keys(session, APP)
        return row.last_used_at

    async with make_gateway() as gateway:
        before = datetime.now(UTC)
        assert await handshake_status(executor_url(gateway, APP, key), "exec-a") == 101
        await eventually(lambda: disconnected_record(events, "exec-a"), "exec-a left")
        first = await last_used()
        assert first is not None
        assert before - timedelta(seconds=1) <= first <= datetime.now(UTC)
        for i in range(5):  # a reconnect storm: no more writes this minute
            assert await handshake_status(executor_url(gateway, APP, key), f"exec-{i}") == 101
        await eventually(lambda: disconnected_record(events, "exec-4"), "exec-4 left")
        assert await last_used() == first


# -- 3. bad input ---------------------------------------------------------------------------------


def _info_reply(request_id: str, executor_id: str) -> str:
    return orjson.dumps(
        {
            "type": "executor_info",
            "request_id": request_id,
            "executor_id": executor_id,
            "application_version": "v1",
            "hostname": "raw-host",
            "language": "python",
            "dbos_version": "2.31.1",
            "executor_metadata": None,
        }
    ).decode()


BAD_INPUT: dict[str, tuple[str | bytes, bool, int]] = {
    # name: (payload, sent as a text frame, close code the gateway answers with)
    "not JSON": ("{this is not json", True, 1007),
    "invalid UTF-8 text": (b'{"type": "recovery", "x": "\xff"}', True, 1007),
    "binary frame": (b'{"type": "recovery"}', False, 1003),
    "unknown type, too long to answer": (
        orjson.dumps({"type": "t" * 257, "request_id": "r-1"}).decode(),
        True,
        1008,
    ),
    "reply without request_id": ('{"type": "recovery", "success": true}', True, 1002),
    "oversized": (
        orjson.dumps({"type": "recovery", "request_id": "r-1", "pad": "x" * 2048}).decode(),
        True,
        1009,
    ),
}


async def test_an_unknown_message_type_gets_an_error_reply_and_the_session_stays(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog, commands: CommandSender
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        url = executor_url(gateway, APP, key)
        async with connect(url, open_timeout=5) as raw:
            info_request = orjson.loads(await raw.recv())
            await raw.send(_info_reply(info_request["request_id"], "exec-curious"))
            await eventually(lambda: connected_record(events, "exec-curious"), "it connects")

            for request_id, type_ in (("r-1", "teleport"), ("r-2", "<script>x</script>")):
                await raw.send(orjson.dumps({"type": type_, "request_id": request_id}).decode())
                answer = orjson.loads(await asyncio.wait_for(raw.recv(), timeout=5))
                assert answer == {
                    "type": type_,
                    "request_id": request_id,
                    "error_message": f"unknown message type {type_!r}: this conductor does not "
                    "handle it",
                }

            # Still its session: a command reaches it and its answer counts.
            command = recover("exec-curious", gateway)
            await commands.send(command)
            asked = orjson.loads(await asyncio.wait_for(raw.recv(), timeout=10))
            assert asked["type"] == "recovery"
            await raw.send(
                orjson.dumps(
                    {"type": "recovery", "request_id": asked["request_id"], "success": True}
                ).decode()
            )
            done = await eventually(lambda: finished(events, command.command_id), "command done")
            assert done.status is CommandStatus.SUCCEEDED
            assert raw.close_code is None
            assert disconnected_record(events, "exec-curious") is None


@pytest.mark.parametrize(
    ("payload", "text", "close_code"), BAD_INPUT.values(), ids=BAD_INPUT.keys()
)
async def test_bad_input_closes_only_that_session(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    commands: CommandSender,
    payload: str | bytes,
    text: bool,
    close_code: int,
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway(max_message_bytes=1024) as gateway:
        url = executor_url(gateway, APP, key)
        async with FakeExecutor(url, "exec-good") as good, connect(url, open_timeout=5) as raw:
            info_request = orjson.loads(await raw.recv())
            await raw.send(_info_reply(info_request["request_id"], "exec-bad"))
            await eventually(lambda: connected_record(events, "exec-bad"), "bad one connects")
            await eventually(lambda: connected_record(events, "exec-good"), "good one connects")

            await raw.send(payload, text=text)
            await asyncio.wait_for(raw.wait_closed(), timeout=5)
            assert raw.close_code == close_code

            bad_gone = await eventually(
                lambda: disconnected_record(events, "exec-bad"), "ExecutorDisconnected (bad)"
            )

            # The well-behaved session is untouched: open, heartbeated, and still answering.
            good_session = connected_record(events, "exec-good")
            assert good_session is not None
            await eventually(
                lambda: any(
                    h.ts_ms > bad_gone.ts_ms and h.sessions == (good_session.session,)
                    for h in events.of_type(GatewayHeartbeat)
                ),
                "a heartbeat listing only the good session after the bad one left",
            )
            command = recover("exec-good", gateway)
            await commands.send(command)
            done = await eventually(lambda: finished(events, command.command_id), "command done")
            assert done.status is CommandStatus.SUCCEEDED
            assert good.ws.close_code is None

    about_bad = [type(r) for r in events.records if executor_of(r) == "exec-bad"]
    assert about_bad == [ExecutorConnected, ExecutorDisconnected]
    # The record says how the gateway closed the session, not 1006 ("the link dropped").
    assert (bad_gone.close_code, bad_gone.draining) == (close_code, False)


# -- 4. the command path --------------------------------------------------------------------------


async def test_recover_command_is_delivered_and_reported(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog, commands: CommandSender
) -> None:
    _, key = await keys.create(APP)
    async with (
        make_gateway() as gateway,
        FakeExecutor(executor_url(gateway, APP, key), "exec-target") as fake,
    ):
        await eventually(lambda: connected_record(events, "exec-target"), "target connects")

        command = recover("exec-target", gateway, dead="exec-dead")
        await commands.send(command)

        done = await eventually(lambda: finished(events, command.command_id), "command done")
        assert done.status is CommandStatus.SUCCEEDED
        (request,) = fake.requests("recovery")
        assert request["executor_ids"] == ["exec-dead"]
        assert set(request) == {"type", "request_id", "executor_ids"}
        reports = progress(events, command.command_id)
        assert [(r.status, r.error) for r in reports] == [
            (CommandStatus.SENT, None),
            (CommandStatus.SUCCEEDED, None),
        ]
        assert {(r.app, r.gateway, r.executor_id) for r in reports} == {
            (APP, gateway.config.gateway_id, "exec-target")
        }


async def test_a_command_delivered_twice_is_acted_on_once(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog, commands: CommandSender
) -> None:
    _, key = await keys.create(APP)
    async with (
        make_gateway() as gateway,
        FakeExecutor(executor_url(gateway, APP, key), "exec-target") as fake,
    ):
        await eventually(lambda: connected_record(events, "exec-target"), "target connects")

        twice = recover("exec-target", gateway, dead="exec-dead-1")
        later = recover("exec-target", gateway, dead="exec-dead-2")
        for command in (twice, twice, later):
            await commands.send(command)

        # Same key, same partition: once ``later`` is done, the duplicate has been read too.
        await eventually(lambda: finished(events, later.command_id), "later command done")
        assert [r.status for r in progress(events, twice.command_id)] == [
            CommandStatus.SENT,
            CommandStatus.SUCCEEDED,
        ]
        assert [r["executor_ids"] for r in fake.requests("recovery")] == [
            ["exec-dead-1"],
            ["exec-dead-2"],
        ]


async def test_an_executor_answering_failure_fails_the_command_with_its_error(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog, commands: CommandSender
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        url = executor_url(gateway, APP, key)
        async with FakeExecutor(
            url, "exec-target", recovery="fail", error_message="Traceback: recovery exploded"
        ):
            await eventually(lambda: connected_record(events, "exec-target"), "target connects")
            command = recover("exec-target", gateway)
            await commands.send(command)

            done = await eventually(lambda: finished(events, command.command_id), "command done")
            assert (done.status, done.error) == (
                CommandStatus.FAILED,
                "Traceback: recovery exploded",
            )


async def test_an_executor_leaving_mid_request_fails_the_command_at_once(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog, commands: CommandSender
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        url = executor_url(gateway, APP, key)
        async with FakeExecutor(url, "exec-target", recovery="disconnect") as fake:
            await eventually(lambda: connected_record(events, "exec-target"), "target connects")
            command = recover("exec-target", gateway, timeout_ms=60_000)
            await commands.send(command)

            done = await eventually(
                lambda: finished(events, command.command_id), "command failed", timeout_s=5
            )
            assert done.status is CommandStatus.FAILED
            assert done.error is not None
            assert "disconnected" in done.error
            assert len(fake.requests("recovery")) == 1
            (sent,) = [r for r in progress(events, command.command_id) if r.status == "sent"]
            assert done.ts_ms - sent.ts_ms < 5_000


async def test_an_executor_that_never_answers_fails_the_command_after_its_timeout(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog, commands: CommandSender
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        url = executor_url(gateway, APP, key)
        async with FakeExecutor(url, "exec-target", recovery="silent") as fake:
            await eventually(lambda: connected_record(events, "exec-target"), "target connects")
            command = recover("exec-target", gateway, timeout_ms=500)
            await commands.send(command)

            done = await eventually(lambda: finished(events, command.command_id), "command failed")
            assert done.status is CommandStatus.FAILED
            assert done.error is not None
            (sent,) = [r for r in progress(events, command.command_id) if r.status == "sent"]
            assert 450 <= done.ts_ms - sent.ts_ms < 5_000
            assert len(fake.requests("recovery")) == 1
            assert fake.ws.close_code is None  # a slow executor is not disconnected for it


async def test_a_command_for_an_executor_not_connected_here(
    make_gateway: MakeGateway, events: EventLog, commands: CommandSender
) -> None:
    async with make_gateway() as gateway:
        elsewhere = recover("exec-ghost", "gw-other")
        unrouted = recover("exec-ghost", None)
        mine = recover("exec-ghost", gateway)
        for command in (elsewhere, unrouted, mine):
            await commands.send(command)

        # Same target key, same partition: ``mine`` is read after the other two.
        done = await eventually(lambda: finished(events, mine.command_id), "command failed")
        assert done.status is CommandStatus.FAILED
        assert done.error is not None
        assert "not connected" in done.error
        assert progress(events, mine.command_id) == [done]  # never SENT
        assert progress(events, elsewhere.command_id) == []  # another pod's business
        assert progress(events, unrouted.command_id) == []


# -- 5. drain -------------------------------------------------------------------------------------


def _refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


async def test_exit_drains_sessions_and_refuses_handshakes(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        port = gateway.port
        # A TCP connection accepted before the drain, whose handshake request comes during it.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            async with FakeExecutor(executor_url(gateway, APP, key), "exec-1") as fake:
                await eventually(lambda: connected_record(events, "exec-1"), "exec-1 connects")

                stopping = asyncio.create_task(gateway.stop())
                await eventually(lambda: _refuses_connections(port), "the listener closed")
                writer.write(
                    (
                        f"GET /websocket/{APP}/{key} HTTP/1.1\r\n"
                        f"Host: 127.0.0.1:{port}\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n"
                    ).encode()
                )
                await writer.drain()
                status_line = await asyncio.wait_for(reader.readline(), timeout=5)
                assert status_line.split()[1] == b"503", status_line
                writer.close()

                await asyncio.wait_for(stopping, timeout=15)
                assert fake.ws.close_code == 1001
        finally:
            writer.close()
            await writer.wait_closed()

    disconnected = await eventually(
        lambda: disconnected_record(events, "exec-1"), "ExecutorDisconnected"
    )
    assert (disconnected.close_code, disconnected.draining) == (1001, True)
    assert _refuses_connections(port)


DRAINED = 300


async def test_a_drain_closes_hundreds_of_sessions_at_once_and_publishes_each_as_draining(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog
) -> None:
    """Issue 12: every session gets its close frame at once, not one close handshake after
    another; one that never answers it is dropped at the close timeout; every disconnect is
    published, marked draining (the worker waits for these executors instead of recovering
    them)."""
    _, key = await keys.create(APP)
    async with make_gateway(close_timeout_s=1.0) as gateway:
        url = executor_url(gateway, APP, key)
        async with contextlib.AsyncExitStack() as stack:
            fakes = [
                await stack.enter_async_context(FakeExecutor(url, f"exec-{i}"))
                for i in range(DRAINED)
            ]
            # Answers executor_info, then reads nothing: it never answers the close frame.
            frozen = await RawClient.open(gateway.port)
            assert await frozen.upgrade(f"/websocket/{APP}/{key}") == 101
            request = await frozen.read_json()
            await frozen.send_json(
                {
                    "type": "executor_info",
                    "request_id": request["request_id"],
                    "executor_id": "exec-frozen",
                    "application_version": "v1",
                }
            )
            await eventually(
                lambda: len(events.of_type(ExecutorConnected)) == DRAINED + 1,
                "every executor connected",
                timeout_s=30,
            )
            started = time.monotonic()
            await gateway.stop()
            stop_s = time.monotonic() - started
            assert [f.ws.close_code for f in fakes] == [1001] * DRAINED
            frozen.close()
    # At least once: a write the stop cancelled in flight is written again by its last tries.
    await eventually(
        lambda: len({r.executor_id for r in events.of_type(ExecutorDisconnected)}) == DRAINED + 1,
        "every disconnect published",
    )
    gone = events.of_type(ExecutorDisconnected)
    assert {r.executor_id for r in gone} == {f"exec-{i}" for i in range(DRAINED)} | {"exec-frozen"}
    assert all(r.draining and r.close_code == 1001 for r in gone), gone
    # The close timeout (1 s, for the frozen one), then the producer's flush: ~1.1 s measured.
    assert 1.0 <= stop_s < 4.0


async def test_a_client_leaving_before_executor_info_does_not_hold_up_the_drain(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway(handshake_timeout_s=5.0) as gateway:
        async with connect(executor_url(gateway, APP, key), open_timeout=5) as raw:
            assert orjson.loads(await raw.recv())["type"] == "executor_info"
        # It left without answering: its handler has nothing left to wait for.
        started = time.monotonic()
        await gateway.stop()
        assert time.monotonic() - started < 2.0, "stop() waited for the handshake timeout"
    assert events.of_type(ExecutorConnected) == []


async def test_a_newer_session_of_the_same_executor_supersedes_the_older(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        url = executor_url(gateway, APP, key)
        async with FakeExecutor(url, "exec-1") as older:
            await eventually(lambda: older.handled, "older session ready")
            async with FakeExecutor(url, "exec-1") as newer:
                await eventually(lambda: older.ws.close_code == 1008, "older session closed")
                # The newer connect is written after the older session's close: wait for it.
                await eventually(
                    lambda: len(events.of_type(ExecutorConnected)) == 2, "the newer connect"
                )
                sessions = [r.session for r in events.of_type(ExecutorConnected)]
                await eventually(
                    lambda: any(
                        h.sessions == (sessions[1],) for h in events.of_type(GatewayHeartbeat)
                    ),
                    "a heartbeat listing only the newer session",
                )
                # The executor did not leave: no disconnect for the superseded session.
                assert events.of_type(ExecutorDisconnected) == []
                assert newer.ws.close_code is None
