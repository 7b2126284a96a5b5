"""The capture poller in a real Faust worker on the embedded broker, reading the recovery agent's
liveness view (wired as ``baton worker`` wires it): polls out on the commands topic, poll results
in on the executor events topic, the cursor in the ``capture-cursors`` table.

Faust's ``agent.test_context()`` cannot drive this agent faithfully: its polls are issued by a
timer (which only runs in a started app), and its table writes and sends go to the app's real
producer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.faust_app import WorkerApp
from capture.agent import CaptureAgent
from capture.cursor import CaptureTimings, decode_cursor
from recovery.agent import RecoveryAgent
from recovery.policy import RecoveryTimings
from runtime.clock import wall_ms
from streams.ids import AppName, ConnId, ExecutorId, GatewayId
from streams.records import (
    CaptureCursor,
    ExecutorConnected,
    ExecutorDisconnected,
    ExecutorInfo,
    GatewayHeartbeat,
    PollResult,
    PollWorkflows,
    SessionInfo,
)
from tests.component.gateway.fakes import CommandSender, EventLog
from tests.eventually import eventually
from tests.integration.faust_worker import RecordingProjection, started, worker_app

pytestmark = pytest.mark.integration

APP = AppName("orders")
ONE, TWO = ExecutorId("exec-1"), ExecutorId("exec-2")
GW1, GW2 = GatewayId("gw-1"), GatewayId("gw-2")
TIMINGS = CaptureTimings(interval_ms=200, timeout_ms=60_000)
ADVANCED = CaptureCursor(created_from_ms=1_234, created_skip=1, completed_from_ms=5_678)


def session(executor_id: ExecutorId, now: int) -> SessionInfo:
    info = ExecutorInfo(executor_id=executor_id, application_version="v1", hostname="host")
    return SessionInfo(info=info, conn_id=ConnId(f"{executor_id}-c"), connected_at_ms=now)


def connected(executor_id: ExecutorId, gateway: GatewayId, now: int) -> ExecutorConnected:
    return ExecutorConnected(app=APP, gateway=gateway, session=session(executor_id, now), ts_ms=now)


def disconnected(executor_id: ExecutorId, gateway: GatewayId, now: int) -> ExecutorDisconnected:
    return ExecutorDisconnected(
        app=APP,
        gateway=gateway,
        executor_id=executor_id,
        conn_id=ConnId(f"{executor_id}-c"),
        close_code=1006,
        close_reason="connection lost",
        draining=False,
        ts_ms=now,
    )


def result_of(poll: PollWorkflows, cursor: CaptureCursor) -> PollResult:
    """What the target's gateway answers after a successful poll."""
    return PollResult(
        command_id=poll.command_id,
        app=poll.app,
        gateway=GW1,
        executor_id=poll.target,
        ok=True,
        cursor=cursor,
        workflows_seen=3,
        requests=3,
        more=False,
        active_seen=False,
        ts_ms=wall_ms(),
    )


class SettablePrivateApps:
    """``PrivateApps`` over a set the test changes; unreadable (raises) while ``down``."""

    def __init__(self, *apps: AppName, down: bool = False) -> None:
        self.apps = frozenset(apps)
        self.down = down
        self.reads = 0

    async def private_apps(self) -> frozenset[AppName]:
        self.reads += 1
        if self.down:
            raise ConnectionError("the store is unreachable")
        return self.apps


def wire(
    worker: WorkerApp, privacy: SettablePrivateApps | None = None
) -> tuple[RecoveryAgent, CaptureAgent]:
    recovery = RecoveryAgent(worker, RecoveryTimings(), RecordingProjection())
    capture = CaptureAgent(
        worker,
        recovery,
        TIMINGS,
        privacy or SettablePrivateApps(),
        tick_interval_s=0.05,
        privacy_refresh_ms=100,
    )
    return recovery, capture


def polls(log: EventLog, since: int = 0) -> list[PollWorkflows]:
    return log.of_type(PollWorkflows)[since:]


def stored_cursor(worker: WorkerApp) -> CaptureCursor | None:
    raw = worker.capture_cursors.get(APP.encode())
    return None if raw is None else decode_cursor(raw)


async def test_a_result_advances_the_stored_cursor_and_the_next_poll_goes_to_a_live_executor(
    worker: WorkerApp, executor_events: CommandSender, commands: EventLog
) -> None:
    recovery, capture = wire(worker)
    async with started(worker):
        await executor_events.send(connected(ONE, GW1, wall_ms()))
        (first,) = await eventually(lambda: polls(commands), "the app's first poll")
        assert (first.app, first.target, first.target_gateway) == (APP, ONE, GW1)
        assert first.cursor == CaptureCursor()  # from the beginning of the app's history

        # exec-2 connects through another pod and exec-1 leaves, as the recovery agent sees it.
        await executor_events.send(connected(TWO, GW2, wall_ms()))
        await executor_events.send(disconnected(ONE, GW1, wall_ms()))
        await eventually(
            lambda: [e.executor_id for e in recovery.live_executors(APP)] == [TWO], "the view"
        )
        await executor_events.send(result_of(first, ADVANCED))

        await eventually(lambda: stored_cursor(worker) == ADVANCED, "the cursor stored")
        (second,) = await eventually(lambda: polls(commands, 1), "the next poll")
        assert (second.target, second.target_gateway, second.cursor) == (TWO, GW2, ADVANCED)
        assert [c.app for c in capture.captures()] == [APP]


async def test_a_worker_that_takes_over_goes_on_from_the_stored_cursor(
    worker: WorkerApp,
    executor_events: CommandSender,
    commands: EventLog,
    kafka_bootstrap: str,
    unique_topic_prefix: str,
    tmp_path: Path,
) -> None:
    wire(worker)
    async with started(worker):
        await executor_events.send(connected(ONE, GW1, wall_ms()))
        (first,) = await eventually(lambda: polls(commands), "the first worker's poll")
        await executor_events.send(result_of(first, ADVANCED))
        await eventually(lambda: stored_cursor(worker) == ADVANCED, "the cursor stored")
    issued = len(polls(commands))

    # The same deployment's next worker: its table is rebuilt from the changelog, its liveness
    # view from the gateways' next heartbeat.
    successor = await worker_app(kafka_bootstrap, unique_topic_prefix, tmp_path / "successor")
    wire(successor)
    async with started(successor):
        await eventually(lambda: stored_cursor(successor) == ADVANCED, "the table recovered")
        beat = GatewayHeartbeat(
            app=APP, gateway=GW1, sessions=(session(ONE, wall_ms()),), ts_ms=wall_ms()
        )
        await executor_events.send(beat)
        resumed = await eventually(lambda: polls(commands, issued), "the successor's poll")
        assert (resumed[0].target, resumed[0].cursor) == (ONE, ADVANCED)


async def test_polls_of_a_private_app_ask_for_no_payloads_and_none_before_the_setting_is_read(
    worker: WorkerApp, executor_events: CommandSender, commands: EventLog
) -> None:
    privacy = SettablePrivateApps(APP, down=True)
    wire(worker, privacy)
    async with started(worker):
        await executor_events.send(connected(ONE, GW1, wall_ms()))
        # The store cannot say which apps are private yet: no poll (it might ask for payloads).
        await eventually(lambda: privacy.reads >= 3, "the setting read again and again")
        assert polls(commands) == []

        privacy.down = False
        (first,) = await eventually(lambda: polls(commands), "the first poll, once it is known")
        assert first.payloads_private is True

        # Privacy switched off: a later poll asks for payloads again (the store stays up or not:
        # the last set read stands while it is down).
        privacy.apps = frozenset()
        await executor_events.send(result_of(first, ADVANCED))
        (second,) = await eventually(lambda: polls(commands, 1), "the next poll")
        assert second.payloads_private is False
