"""A slow or stuck client holds the gateway's resources for a bounded time only (issue 10).

Each bound of ``GatewayLimits`` against a real socket: a slow-loris upgrade (``open_timeout_s``), an
upgraded client that never answers ``executor_info`` (``handshake_timeout_s``), an executor that
reads nothing while the gateway has frames for it (``write_timeout_s`` over ``write_limit_bytes``),
one that reads nothing and so answers no ping, one that answers no request
(``max_pending_requests``), and compression, off unless asked for. Hand-written clients
(``RawClient``) do what no library client does; a well-behaved executor works throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.sync.client import connect as sync_connect

from gateway.keepalive import KeepaliveConnection
from gateway.server import Gateway
from runtime.clock import wall_ms
from streams.ids import AppName, CommandId, ExecutorId
from streams.records import (
    CommandProgress,
    CommandStatus,
    ExecutorConnected,
    ExecutorDisconnected,
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

APP = "orders"
MakeGateway = Callable[..., Gateway]


def recover(gateway: Gateway, target: str, *, dead: str = "gone", timeout_ms: int = 5_000):
    return RecoverExecutor(
        command_id=CommandId(f"cmd-{uuid.uuid4().hex[:12]}"),
        app=AppName(APP),
        target=ExecutorId(target),
        target_gateway=gateway.config.gateway_id,
        dead_executor_id=ExecutorId(dead),
        issued_at_ms=wall_ms(),
        timeout_ms=timeout_ms,
    )


def outcome(events: EventLog, command: RecoverExecutor) -> CommandProgress | None:
    done = [
        r
        for r in events.of_type(CommandProgress)
        if r.command_id == command.command_id and r.status is not CommandStatus.SENT
    ]
    return done[-1] if done else None


def disconnected(events: EventLog, executor_id: str) -> ExecutorDisconnected | None:
    found = [r for r in events.of_type(ExecutorDisconnected) if r.executor_id == executor_id]
    return found[0] if found else None


async def timed(awaitable: asyncio.Future[object] | asyncio.Task[object]) -> float:
    started = time.monotonic()
    await asyncio.wait_for(awaitable, timeout=10)
    return time.monotonic() - started


async def handshaken(gateway: Gateway, key: str, executor_id: str, **options: int) -> RawClient:
    """A hand-written client that upgrades and answers ``executor_info``, then does as told."""
    client = await RawClient.open(gateway.port, **options)
    assert await client.upgrade(f"/websocket/{APP}/{key}") == 101
    request = await client.read_json()
    assert request["type"] == "executor_info"
    await client.send_json(
        {
            "type": "executor_info",
            "request_id": request["request_id"],
            "executor_id": executor_id,
            "application_version": "v1",
        }
    )
    return client


async def dribble(client: RawClient, data: bytes, pause_s: float) -> None:
    """Send ``data`` a byte at a time (a slow-loris), until the gateway hangs up."""
    with contextlib.suppress(ConnectionError):
        for byte in data:
            await client.send_raw(bytes([byte]))
            await asyncio.sleep(pause_s)


# -- the opening handshake ------------------------------------------------------------------------


async def test_a_slow_loris_upgrade_is_dropped_after_the_open_timeout(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway(open_timeout_s=1.0) as gateway:
        request = RawClient.upgrade_request(f"/websocket/{APP}/{key}")
        loris = await RawClient.open(gateway.port)
        mute = await RawClient.open(gateway.port)  # connects and never sends a byte
        started = time.monotonic()
        async with asyncio.TaskGroup() as tasks:
            # ~0.05 s a byte: the request would take ~8 s to arrive whole.
            tasks.create_task(dribble(loris, request[:-2], 0.05))
            dropped = [tasks.create_task(client.dropped()) for client in (loris, mute)]
            # Meanwhile an executor connects and works as usual.
            async with FakeExecutor(executor_url(gateway, APP, key), "exec-good") as good:
                await connected(events, "exec-good")
                await asyncio.wait_for(asyncio.gather(*dropped), timeout=5)
                elapsed_s = time.monotonic() - started
                assert good.ws.close_code is None
        for client in (loris, mute):
            client.close()
    # Both cut at the open timeout (measured: 1.0 s), with no HTTP response at all.
    assert 1.0 <= elapsed_s < 1.5
    assert [r.session.info.executor_id for r in events.of_type(ExecutorConnected)] == ["exec-good"]


async def test_an_upgraded_client_that_never_says_who_it_is_is_closed_1008(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway(handshake_timeout_s=1.0, close_timeout_s=0.5) as gateway:
        client = await RawClient.open(gateway.port)
        assert await client.upgrade(f"/websocket/{APP}/{key}") == 101
        started = time.monotonic()
        assert (await client.read_json())["type"] == "executor_info"
        assert await client.close_code() == 1008
        closed_s = time.monotonic() - started
        # It does not answer the close either: the TCP connection goes at the close timeout.
        dropped_s = await timed(asyncio.ensure_future(client.dropped()))
        client.close()
    assert 1.0 <= closed_s < 1.5
    assert dropped_s < 1.0
    assert events.of_type(ExecutorConnected) == []  # it never became an executor


# -- an executor that reads nothing ---------------------------------------------------------------


async def test_an_executor_that_reads_nothing_is_cut_after_the_write_timeout(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog, commands: CommandSender
) -> None:
    _, key = await keys.create(APP)
    limits = {"write_timeout_s": 1.0, "write_limit_bytes": 4096, "close_timeout_s": 0.5}
    async with make_gateway(ping_interval_s=60.0, **limits) as gateway:
        url = executor_url(gateway, APP, key)
        async with FakeExecutor(url, "exec-good") as good:
            lazy = await handshaken(gateway, key, "exec-lazy", receive_buffer_bytes=4096)
            await connected(events, "exec-lazy")
            # From here on it reads nothing; 64 KiB recovery requests fill every buffer.
            sent = [recover(gateway, "exec-lazy", dead=f"{n}-" + "x" * 65536) for n in range(8)]
            for command in sent:
                await commands.send(command)
            gone = await eventually(
                lambda: disconnected(events, "exec-lazy"), "exec-lazy cut off", timeout_s=10
            )
            for command in sent:
                done = await eventually(partial(outcome, events, command), "command ended")
                assert done.status is CommandStatus.FAILED
            # The well-behaved executor never noticed.
            check = recover(gateway, "exec-good")
            await commands.send(check)
            done = await eventually(lambda: outcome(events, check), "good command done")
            assert done.status is CommandStatus.SUCCEEDED
            assert good.ws.close_code is None
        lazy.close()
    assert (gone.close_code, gone.close_reason) == (1008, "write timeout")
    first_sent_ms = min(
        r.ts_ms
        for r in events.of_type(CommandProgress)
        if r.executor_id == "exec-lazy" and r.status is CommandStatus.SENT
    )
    # Cut one write timeout after the first send that found no room, which came at most a few
    # commands after the first one (measured: 1.0 s after the last command was sent).
    assert 990 <= gone.ts_ms - first_sent_ms < 2_000


async def test_an_executor_that_answers_no_ping_is_closed_by_the_keepalive(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway(ping_interval_s=0.5, ping_timeout_s=0.5, close_timeout_s=0.5) as gw:
        frozen = await handshaken(gw, key, "exec-frozen")
        ready = await eventually(
            lambda: [r for r in events.of_type(ExecutorConnected)], "exec-frozen connects"
        )
        gone = await eventually(
            lambda: disconnected(events, "exec-frozen"), "exec-frozen closed", timeout_s=5
        )
        frozen.close()
    assert (gone.close_code, gone.close_reason) == (1011, "keepalive ping timeout")
    # interval + timeout + close timeout = 1.5 s (measured: ~1.5 s).
    assert 1_000 <= gone.ts_ms - ready[0].ts_ms < 2_500


async def test_the_sweeper_closes_the_silent_session_within_its_timeout_and_keeps_the_others(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog
) -> None:
    """One keepalive sweeper for every session (issue 12): the one that stops answering pings
    is closed 1011 within interval + timeout (+ a sweep, + the close timeout); the ones that
    answer stay, as does one that pings the gateway itself (the DBOS client's own keepalive,
    answered by the gateway)."""
    _, key = await keys.create(APP)
    async with make_gateway(ping_interval_s=0.3, ping_timeout_s=0.4, close_timeout_s=0.3) as gw:
        url = executor_url(gw, APP, key)
        async with contextlib.AsyncExitStack() as stack:
            alive = [
                await stack.enter_async_context(FakeExecutor(url, f"exec-{i}")) for i in range(20)
            ]
            pinging = await stack.enter_async_context(
                connect(url, ping_interval=0.2, ping_timeout=0.5)
            )
            request = orjson.loads(await pinging.recv())
            answer = {"type": "executor_info", "request_id": request["request_id"]}
            await pinging.send(
                orjson.dumps(
                    {**answer, "executor_id": "exec-pinging", "application_version": "v1"}
                ).decode()
            )
            frozen = await handshaken(gw, key, "exec-frozen")
            await connected(events, "exec-frozen")
            ready_ms = wall_ms()
            gone = await eventually(
                lambda: disconnected(events, "exec-frozen"), "exec-frozen closed", timeout_s=5
            )
            await asyncio.sleep(2.0)  # several more intervals
            assert [e.ws.close_code for e in alive] == [None] * len(alive)
            assert pinging.close_code is None
            assert all(disconnected(events, f"exec-{i}") is None for i in range(len(alive)))
            assert disconnected(events, "exec-pinging") is None
            frozen.close()
    assert (gone.close_code, gone.close_reason) == (1011, "keepalive ping timeout")
    # interval + timeout + close timeout = 1.0 s, plus up to a sweep (0.075 s) and the publish.
    assert gone.ts_ms - ready_ms < 2_000


def executor_in_thread(url: str, executor_id: str, stop: threading.Event) -> None:
    """A DBOS-like executor on a thread of its own (websockets' sync client answers pings from
    its own thread, whatever the gateway's loop does)."""
    with sync_connect(url) as ws:
        request = orjson.loads(ws.recv())
        answer = {"type": "executor_info", "request_id": request["request_id"]}
        ws.send(
            orjson.dumps(
                {**answer, "executor_id": executor_id, "application_version": "v1"}
            ).decode()
        )
        stop.wait(30)


async def test_a_late_gateway_loop_does_not_fail_executors_that_answer_its_pings(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: at ~7,500 sessions on busy cores the gateway's loop ran later than the ping
    timeout, and failed (1011) live executors whose pongs sat unread in their sockets."""
    _, key = await keys.create(APP)
    late_turns: list[float] = []
    ping = KeepaliveConnection.send_keepalive_ping

    def ping_then_run_late(self: KeepaliveConnection) -> None:
        ping(self)
        if len(late_turns) < 3:
            late_turns.append(1.2)  # the loop runs 0.7 s past the pong's deadline
            asyncio.get_running_loop().call_soon(time.sleep, 1.2)

    monkeypatch.setattr(KeepaliveConnection, "send_keepalive_ping", ping_then_run_late)
    stop = threading.Event()
    async with make_gateway(ping_interval_s=0.3, ping_timeout_s=0.5, close_timeout_s=0.5) as gw:
        url = executor_url(gw, APP, key)
        thread = threading.Thread(target=executor_in_thread, args=(url, "exec-alive", stop))
        thread.start()
        try:
            await connected(events, "exec-alive")
            await eventually(
                lambda: len(late_turns) == 3 or disconnected(events, "exec-alive"),
                "three late turns, or a disconnect",
                timeout_s=10,
            )
            await asyncio.sleep(1.0)
            assert disconnected(events, "exec-alive") is None
            assert len(late_turns) == 3
        finally:
            stop.set()
            await asyncio.to_thread(thread.join, 10)


async def test_requests_beyond_the_in_flight_bound_fail_at_once(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog, commands: CommandSender
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway(max_pending_requests=2) as gateway:
        url = executor_url(gateway, APP, key)
        async with FakeExecutor(url, "exec-mute", recovery="silent") as mute:
            await connected(events, "exec-mute")
            waiting = [recover(gateway, "exec-mute", timeout_ms=3_000) for _ in range(2)]
            for command in waiting:
                await commands.send(command)
            await eventually(lambda: len(mute.requests("recovery")) == 2, "two requests out")
            extra = recover(gateway, "exec-mute", timeout_ms=3_000)
            await commands.send(extra)
            refused = await eventually(lambda: outcome(events, extra), "the third one refused")
            assert all(outcome(events, c) is None for c in waiting)  # still waiting
            assert refused.status is CommandStatus.FAILED
            assert refused.error == "2 requests already in flight to this executor"
            assert len(mute.requests("recovery")) == 2  # it never reached the executor


async def test_compression_is_off_unless_configured(
    make_gateway: MakeGateway, keys: KeyBook
) -> None:
    _, key = await keys.create(APP)
    for enabled in (False, True):
        async with (
            make_gateway(compression=enabled) as gateway,
            connect(executor_url(gateway, APP, key)) as client,  # offers permessage-deflate
        ):
            assert orjson.loads(await client.recv())["type"] == "executor_info"
            assert client.response is not None
            extensions = client.response.headers.get("Sec-WebSocket-Extensions")
            assert (extensions is not None) is enabled
