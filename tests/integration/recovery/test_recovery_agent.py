"""The recovery agent in a real Faust worker on the embedded broker: executor events in; recovery
commands, audit decisions, projected states and the liveness view out.

Faust's ``agent.test_context()`` cannot drive this agent faithfully: its table writes and topic
sends go to the app's real producer (faust-streaming 0.15.3 has no in-memory transport), and its
timers (the policy's tick, the projection's flush) only run in a started app.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from broker.faust_app import WorkerApp
from broker.faust_metrics import add_faust_metrics
from recovery.agent import RecoveryAgent
from recovery.policy import RecoveryTimings
from recovery.state import ExecutorState, RecoveryState
from runtime.clock import wall_ms
from runtime.metrics import Metrics
from streams.ids import AppName, ConnId, ExecutorId, GatewayId
from streams.records import (
    CommandProgress,
    CommandStatus,
    ExecutorConnected,
    ExecutorDisconnected,
    ExecutorInfo,
    GatewayHeartbeat,
    RecoverExecutor,
    RecoveryDecision,
    RecoveryStep,
    SessionInfo,
)
from tests.component.gateway.fakes import CommandSender, EventLog
from tests.eventually import eventually
from tests.integration.faust_worker import RecordingProjection, started, worker_app
from tests.prometheus_text import parse, value

pytestmark = pytest.mark.integration

APP = AppName("orders")
GATEWAY = GatewayId("gw-1")
A, B, C = ExecutorId("exec-a"), ExecutorId("exec-b"), ExecutorId("exec-c")
D = ExecutorId("exec-d")
TIMINGS = RecoveryTimings(grace_ms=300, command_timeout_ms=60_000)


def connected(executor_id: ExecutorId, conn_id: str, ts_ms: int) -> ExecutorConnected:
    info = ExecutorInfo(executor_id=executor_id, application_version="v1", hostname="host")
    session = SessionInfo(info=info, conn_id=ConnId(conn_id), connected_at_ms=ts_ms)
    return ExecutorConnected(app=APP, gateway=GATEWAY, session=session, ts_ms=ts_ms)


def disconnected(executor_id: ExecutorId, conn_id: str, ts_ms: int) -> ExecutorDisconnected:
    return ExecutorDisconnected(
        app=APP,
        gateway=GATEWAY,
        executor_id=executor_id,
        conn_id=ConnId(conn_id),
        close_code=1006,
        close_reason="connection lost",
        draining=False,
        ts_ms=ts_ms,
    )


def quiet_beat(gateway: GatewayId, *, session_count: int) -> GatewayHeartbeat:
    """A pod's beat, now, that lists nothing (its digest is not what a test checks)."""
    return GatewayHeartbeat(
        app=APP,
        gateway=gateway,
        sessions=(),
        ts_ms=wall_ms(),
        listed=False,
        session_count=session_count,
        digest="not checked here",
    )


def steps(log: EventLog) -> list[tuple[ExecutorId, RecoveryStep]]:
    return [(d.dead_executor_id, d.step) for d in log.of_type(RecoveryDecision)]


def agent_on(worker: WorkerApp, projection: RecordingProjection) -> RecoveryAgent:
    return RecoveryAgent(
        worker, TIMINGS, projection, tick_interval_s=0.05, projection_interval_s=0.05
    )


async def test_a_dead_executor_is_recovered_by_a_live_one(
    worker: WorkerApp, executor_events: CommandSender, commands: EventLog, audit: EventLog
) -> None:
    projection = RecordingProjection()
    agent = agent_on(worker, projection)
    async with started(worker):
        now = wall_ms()
        await executor_events.send(connected(A, "a1", now))
        await executor_events.send(connected(B, "b1", now))
        await executor_events.send(disconnected(A, "a1", now + 10))

        (command,) = await eventually(
            lambda: commands.of_type(RecoverExecutor), "a recovery command"
        )
        assert (command.app, command.dead_executor_id, command.target) == (APP, A, B)
        assert command.target_gateway == GATEWAY
        await eventually(lambda: len(steps(audit)) >= 2, "the decisions audited")
        assert steps(audit) == [(A, RecoveryStep.DECLARED_DEAD), (A, RecoveryStep.TARGET_CHOSEN)]
        assert audit.of_type(RecoveryDecision)[1].command_id == command.command_id
        # The liveness view the capture poller reads: the dead one is no longer live.
        assert agent.apps() == [APP]
        assert [e.executor_id for e in agent.live_executors(APP)] == [B]
        assert agent.live_executors(AppName("billing")) == []

        # The target's gateway reports success: the recovery is done.
        done = CommandProgress(
            app=APP,
            command_id=command.command_id,
            gateway=GATEWAY,
            executor_id=B,
            status=CommandStatus.SUCCEEDED,
            error=None,
            ts_ms=wall_ms(),
        )
        await executor_events.send(done)
        await eventually(lambda: len(steps(audit)) >= 3, "the success audited")
        assert steps(audit)[2] == (A, RecoveryStep.SUCCEEDED)

        # Everything audited reached the store's projection, and the latest state says so.
        await eventually(
            lambda: projection.decisions == audit.of_type(RecoveryDecision), "decisions projected"
        )
        await eventually(
            lambda: projection.latest[APP].recoveries[A].state is RecoveryState.SUCCEEDED,
            "the finished recovery projected",
        )
        assert projection.latest[APP].executors[A].state is ExecutorState.RECOVERED
        assert len(commands.of_type(RecoverExecutor)) == 1


async def test_an_executor_back_within_the_grace_period_is_never_recovered(
    worker: WorkerApp, executor_events: CommandSender, commands: EventLog, audit: EventLog
) -> None:
    agent_on(worker, RecordingProjection())
    async with started(worker):
        now = wall_ms()
        await executor_events.send(connected(A, "a1", now))
        await executor_events.send(connected(B, "b1", now))
        await executor_events.send(connected(C, "c1", now))
        # A and C lose their sessions at once; only A reconnects (a new session) in time.
        await executor_events.send(disconnected(A, "a1", now + 10))
        await executor_events.send(disconnected(C, "c1", now + 10))
        await executor_events.send(connected(A, "a2", now + 50))

        # C's recovery shows the grace period is over: A's would have been decided with it.
        (command,) = await eventually(
            lambda: commands.of_type(RecoverExecutor), "C's recovery command"
        )
        assert command.dead_executor_id == C
        await eventually(lambda: len(steps(audit)) >= 2, "C's decisions audited")
        assert {dead for dead, _ in steps(audit)} == {C}


async def test_a_grace_and_a_retry_backoff_are_acted_on_when_they_end_not_at_a_tick(
    worker: WorkerApp, executor_events: CommandSender, commands: EventLog, audit: EventLog
) -> None:
    # No tick within the test: only the wake-ups (``recovery.wakes``) can plan the app.
    RecoveryAgent(
        worker, TIMINGS, RecordingProjection(), tick_interval_s=600, projection_interval_s=0.05
    )
    async with started(worker):
        now = wall_ms()
        for executor_id in (A, B, C):
            await executor_events.send(connected(executor_id, f"{executor_id}-1", now))
        await executor_events.send(disconnected(A, f"{A}-1", now + 10))
        (first,) = await eventually(lambda: commands.of_type(RecoverExecutor), "a first try")
        # The audit topic is followed apart from the command topic: it may lag a moment behind.
        declared = (
            await eventually(lambda: audit.of_type(RecoveryDecision), "the declaration audited")
        )[0]
        assert declared.step is RecoveryStep.DECLARED_DEAD
        assert declared.ts_ms >= now + 10 + TIMINGS.grace_ms  # never before the grace ends

        failed_ms = wall_ms()
        await executor_events.send(
            CommandProgress(
                app=APP,
                command_id=first.command_id,
                gateway=GATEWAY,
                executor_id=first.target,
                status=CommandStatus.FAILED,
                error="db down",
                ts_ms=failed_ms,
            )
        )
        tries = await eventually(
            lambda: [c for c in commands.of_type(RecoverExecutor) if c != first] or None,
            "the retry",
        )
        assert tries[0].target != first.target
        retry = [d for d in audit.of_type(RecoveryDecision) if d.attempt == 2]
        assert retry[0].ts_ms >= failed_ms + TIMINGS.retry_backoff_ms


async def test_decisions_the_time_to_recovery_and_records_are_counted(
    worker: WorkerApp, executor_events: CommandSender, commands: EventLog, audit: EventLog
) -> None:
    metrics = Metrics("worker")
    add_faust_metrics(worker.app, metrics)
    RecoveryAgent(
        worker,
        TIMINGS,
        RecordingProjection(),
        tick_interval_s=0.05,
        projection_interval_s=0.05,
        metrics=metrics,
    )
    async with started(worker):
        now = wall_ms()
        await executor_events.send(connected(A, "a1", now))
        await executor_events.send(connected(B, "b1", now))
        await executor_events.send(disconnected(A, "a1", now + 10))
        (command,) = await eventually(
            lambda: commands.of_type(RecoverExecutor), "a recovery command"
        )
        # B's gateway sent DBOS's recovery request 1.5 s (event time) after A's disconnect.
        sent = CommandProgress(
            app=APP,
            command_id=command.command_id,
            gateway=GATEWAY,
            executor_id=B,
            status=CommandStatus.SENT,
            error=None,
            ts_ms=now + 1_510,
        )
        await executor_events.send(sent)
        await eventually(lambda: len(steps(audit)) >= 3, "the send audited")

        samples = parse(metrics.exposition().decode())
        for outcome in ("declared_dead", "target_chosen", "sent"):
            assert value(samples, "baton_recovery_decisions_total", outcome=outcome) == 1
        assert value(samples, "baton_recovery_decisions_total", outcome="succeeded") == 0
        assert value(samples, "baton_recovery_sent_seconds_count") == 1
        assert value(samples, "baton_recovery_sent_seconds_sum") == 1.5
        assert value(samples, "baton_recovery_sent_seconds_bucket", le="1.0") == 0
        assert value(samples, "baton_recovery_sent_seconds_bucket", le="2.0") == 1
        topics = worker.topics
        assert value(samples, "baton_events_consumed_total", topic=topics.executor_events) >= 4
        assert value(samples, "baton_events_published_total", topic=topics.audit) >= 3
        assert value(samples, "baton_events_published_total", topic=topics.commands) == 1
        assert (("topic", topics.executor_events),) in {
            tuple(k) for k in samples["baton_consumer_lag_records"]
        }


async def test_a_successor_worker_rebuilds_the_app_from_its_table_entries(
    worker: WorkerApp,
    executor_events: CommandSender,
    commands: EventLog,
    kafka_bootstrap: str,
    unique_topic_prefix: str,
    tmp_path: Path,
) -> None:
    """The ``liveness`` table holds one entry per executor and recovery: the same deployment's
    next worker knows the app's executors and finished recoveries from those entries alone (the
    gateway's beat below lists no session)."""
    agent_on(worker, RecordingProjection())
    async with started(worker):
        now = wall_ms()
        for executor_id, conn in ((A, "a1"), (B, "b1"), (C, "c1")):
            await executor_events.send(connected(executor_id, conn, now))
        await executor_events.send(disconnected(A, "a1", now + 10))
        (command,) = await eventually(
            lambda: commands.of_type(RecoverExecutor), "a recovery command"
        )
        done = CommandProgress(
            app=APP,
            command_id=command.command_id,
            gateway=GATEWAY,
            executor_id=command.target,
            status=CommandStatus.SUCCEEDED,
            error=None,
            ts_ms=wall_ms(),
        )
        await executor_events.send(done)
        await eventually(
            lambda: len(worker.liveness) == 4,  # three executors and A's recovery
            "the table entries written",
        )
        # One more entry after them: a successor's table recovery (faust-streaming 0.15.3 on
        # the embedded broker) was seen to leave out the changelog's very last record.
        await executor_events.send(connected(D, "d1", wall_ms()))
        await eventually(lambda: len(worker.liveness) == 5, "D's entry written")

    successor = await worker_app(kafka_bootstrap, unique_topic_prefix, tmp_path / "successor")
    projection = RecordingProjection()
    agent = agent_on(successor, projection)
    async with started(successor):
        await executor_events.send(quiet_beat(GATEWAY, session_count=2))
        await eventually(lambda: agent.apps() == [APP], "the app loaded")
        live = {e.executor_id for e in agent.live_executors(APP)}
        assert {B, C} <= live <= {B, C, D}
        latest = await eventually(lambda: projection.latest.get(APP), "the app projected")
        assert latest.recoveries[A].state is RecoveryState.SUCCEEDED
        assert latest.executors[A].state is ExecutorState.RECOVERED
        assert len(commands.of_type(RecoverExecutor)) == 1  # nothing recovered twice


async def test_an_app_a_successor_loads_is_planned_though_only_quiet_beats_follow(
    worker: WorkerApp,
    executor_events: CommandSender,
    audit: EventLog,
    kafka_bootstrap: str,
    unique_topic_prefix: str,
    tmp_path: Path,
) -> None:
    """A worker plans an app again only after an event that may bring a deadline closer (a beat
    that lists nothing does not) or when its next deadline comes. An app it has just loaded from
    its table has no deadline known yet, so its first event gets it planned, whatever it is. Here
    the pod that held the executors is gone (nothing of it comes again) and only another pod's
    beats that list nothing follow: the executors are found silent."""
    agent_on(worker, RecordingProjection())
    async with started(worker):
        now = wall_ms()
        for executor_id, conn in ((A, "a1"), (B, "b1")):
            await executor_events.send(connected(executor_id, conn, now))
        await eventually(lambda: len(worker.liveness) == 2, "the table entries written")
        # One more after them (a successor's table recovery may leave out the last record).
        await executor_events.send(connected(D, "d1", wall_ms()))
        await eventually(lambda: len(worker.liveness) == 3, "D's entry written")

    successor = await worker_app(kafka_bootstrap, unique_topic_prefix, tmp_path / "successor")
    timings = RecoveryTimings(grace_ms=300, command_timeout_ms=60_000, liveness_timeout_ms=1_000)
    RecoveryAgent(
        successor,
        timings,
        RecordingProjection(),
        tick_interval_s=0.05,
        projection_interval_s=0.05,
    )

    async def other_pods_quiet_beats() -> None:
        while True:
            await executor_events.send(quiet_beat(GatewayId("gw-2"), session_count=0))
            await asyncio.sleep(0.2)

    async with started(successor):
        beats = asyncio.create_task(other_pods_quiet_beats())
        try:
            declared = await eventually(
                lambda: silent_ones_declared(audit, {A, B}), "the silent executors declared dead"
            )
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats
        assert all("silent" in d.reason for d in declared), declared


def silent_ones_declared(
    audit: EventLog, executor_ids: set[ExecutorId]
) -> list[RecoveryDecision] | None:
    """The audit's declarations of death of ``executor_ids``, once it holds one of each."""
    declared = [
        d
        for d in audit.of_type(RecoveryDecision)
        if d.step is RecoveryStep.DECLARED_DEAD and d.dead_executor_id in executor_ids
    ]
    return declared if {d.dead_executor_id for d in declared} == executor_ids else None
