"""The recovery agent: the Faust shell around ``recovery.liveness`` and ``recovery.policy``.

Per batch of executor events (``BATCH_MAX``, ``BATCH_WITHIN_S``): decode and fold each into its
app's state, then write what changed in each app to the table once (``recovery.table``: one entry
per executor and recovery, written as deltas); a gateway's report on a recovery command goes to
the policy at once. A timer runs the policy, every ``tick_interval_s``, on each app whose state an
event changed since its last plan, or whose next deadline (``Plan.next_ms``) came: deadlines fire
without waiting for the next event, a fleet's connects cost a fold each, not a plan over the whole
fleet each, and an idle app of 10,000 executors is planned when one of them may be due, not ten
times a second. A beat that lists nothing (the pod is alive) only puts deadlines off, so it does
not count as a change. A disconnect's grace and
a failed try's backoff are also filed as wake-ups (``recovery.wakes``): the app is planned when
they run out, not up to a tick later (a death's recovery request leaves at the end of its grace).
Decisions go to the audit topic, commands to the command topic. What changed in the app states
is projected into the SQL store in batches (deltas too: ``recovery.delta``).

Faust only lets a table be written from inside an agent (the changelog partition comes from the
current event), so the states live in a cache owned by this worker's partitions: the timer updates
the cache, and the next event of that app (a heartbeat within seconds) writes it to the table. A
rebalance drops the cache; the table, rebuilt from its changelog, is then the truth again.

Computing a delta walks the app's executors, so an app of more than
``TABLE_WRITE_EACH_EVENT_UP_TO`` executors is written at most every ``TABLE_WRITE_EVERY_S`` (the
next event after that writes everything since): per event, a fleet of 10,000 connecting at once
cost a walk of the fleet per connect, quadratic in its size.

An exception escaping the agent crashes the Faust app (``broker.faust_app``: agents are
supervised by ``CrashingSupervisor``): the worker role then exits non-zero and is restarted.

The only clock read is here, and the policy only acts on it through ``event_clock``.

The cached states are also the worker's one liveness view: ``apps`` and ``live_executors`` are what
the capture poller reads (its ``LivenessView``; this module does not import ``capture``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from broker.faust_app import WorkerApp, writing_as
from recovery.delta import Cadence, Delta, Written, delta
from recovery.digest import Believed, PodCheck, believed, on_beat
from recovery.liveness import fold
from recovery.policy import Plan, RecoveryTimings, event_clock, on_progress, plan, wake_at_ms
from recovery.state import AppState, ExecutorRecord
from recovery.table import LivenessTable
from recovery.wakes import Wakes
from runtime.clock import wall_ms
from runtime.metrics import ErrorKind, Metrics
from streams.codec import decode, encode, record_key
from streams.exceptions import RecordError
from streams.ids import AppName, GatewayId
from streams.records import (
    CommandProgress,
    ExecutorConnected,
    ExecutorDisconnected,
    GatewayHeartbeat,
    PollResult,
    Record,
    RecoveryDecision,
    RecoveryStep,
)

logger = logging.getLogger(__name__)

BATCH_MAX = 200
BATCH_WITHIN_S = 0.02
"""Events are folded in batches of at most ``BATCH_MAX``, waiting at most ``BATCH_WITHIN_S`` for
one to fill (far below the tick's 0.1 s): the table is written once per app per batch. A batch
holds the lock the tick needs: a small one keeps the tick on time under a backlog."""

PROJECTION_CADENCE = Cadence(clock_every_ms=10_000, clock_budget=0, heard_every_ms=10_000)
"""The store's last-seen times are at most about 10 s behind (the console shows them): a
connected executor's is its pod's (``store.models.ExecutorRow.seen_at``), so an executor's row
is written when its record changes, not as its clock moves (at 10,000 executors that was 1,000
rows a second), and each pod's clock every 10 s."""
TABLE_WRITE_EACH_EVENT_UP_TO = 1_000
"""Apps of at most this many executors are written to the table on each of their events."""
TABLE_WRITE_EVERY_S = 1.0
"""Larger apps are written at most this often (on the first event after it)."""


class Projection(Protocol):
    """Where app states and decisions go for the console (the SQL store)."""

    async def project(self, states: list[AppState], decisions: list[RecoveryDecision]) -> None: ...


class RecoveryAgent:
    """Wires the pure cores into a Faust worker."""

    def __init__(
        self,
        worker: WorkerApp,
        timings: RecoveryTimings,
        projection: Projection,
        tick_interval_s: float = 0.1,
        projection_interval_s: float = 0.5,
        metrics: Metrics | None = None,
        seeds: Mapping[AppName, AppState] | None = None,
    ) -> None:
        self._metrics = Metrics("worker") if metrics is None else metrics
        self._worker = worker
        # An app's state when its table has none (a broker that came back empty): the
        # executors the store last saw connected (``store.liveness_seed``). Used once per app.
        self._seeds = dict(seeds or {})
        self._timings = timings
        self._projection = projection
        self._states: dict[AppName, AppState] = {}
        self._table = LivenessTable(worker.liveness)
        self._projected: dict[AppName, Written] = {}
        self._table_written_at: dict[AppName, float] = {}
        self._dirty: set[AppName] = set()
        self._unplanned: set[AppName] = set()
        """Apps an event changed since their last plan: the next tick plans them."""
        self._next_due_ms: dict[AppName, int] = {}
        """Each app's ``Plan.next_ms`` from its last plan, while it has one."""
        self._believed: dict[AppName, Believed] = {}
        """Each app's ``recovery.digest.believed``, kept while its executors are unchanged."""
        self._pod_checks: dict[tuple[AppName, GatewayId], PodCheck] = {}
        """Each pod's digest check per app (``recovery.digest``): soft state, only while a
        mismatch lasts or a request was made recently."""
        self._unprojected: list[RecoveryDecision] = []
        self._lock = asyncio.Lock()
        self._wakes = Wakes()
        self._woken = asyncio.Event()
        app = worker.app
        app.agent(worker.executor_events, name="recovery-agent")(self._consume)
        app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        app.timer(interval=tick_interval_s)(self._tick)
        app.task(self._wake_loop)
        app.timer(interval=projection_interval_s)(self._flush_projection)

    def apps(self) -> list[AppName]:
        """The apps of this worker's partitions whose events were folded since the last
        rebalance (the capture poller's ``LivenessView``)."""
        return list(self._states)

    def live_executors(self, app: AppName) -> list[ExecutorRecord]:
        """The connected executors of ``app`` as this worker's state says (none when the app
        is not this worker's)."""
        state = self._states.get(app)
        return [] if state is None else state.live_executors()

    def pods_in_doubt(self) -> list[tuple[AppName, GatewayId]]:
        """The (app, gateway pod) pairs whose heartbeat digest currently disagrees with this
        worker's table (``recovery.digest``)."""
        return [k for k, c in self._pod_checks.items() if c.mismatch_since_ms is not None]

    async def _on_revoked(self, sender: Any, *args: Any, **kwargs: Any) -> None:
        async with self._lock:
            self._states.clear()
            self._unplanned.clear()
            self._next_due_ms.clear()
            self._pod_checks.clear()
            self._believed.clear()
            self._wakes.clear()
            self._table.forget()
            self._table_written_at.clear()
            self._projected.clear()

    async def _consume(self, stream: Any) -> None:
        async for events in stream.take_events(BATCH_MAX, BATCH_WITHIN_S):
            async with self._lock:
                last_of: dict[AppName, Any] = {}
                for event in events:
                    record = self._decoded(event.value)
                    if record is not None:
                        await self._on_record(record)
                        last_of[record.app] = event
                # One table write per app per batch (deltas: what changed since the last), each
                # in the context of that app's latest event: Faust writes the changelog to the
                # partition of the current event, and every event of an app is on one partition.
                with writing_as(stream) as current:
                    for app, event in last_of.items():
                        state = self._states.get(app)
                        if state is not None and self._table_due(state):
                            current(event)
                            self._table.write(state)

    def _decoded(self, value: bytes) -> Record | None:
        try:
            return decode(value)
        except RecordError as exc:
            self._metrics.error(ErrorKind.DECODE)
            logger.warning("skipping undecodable executor event: %s", exc)
            return None

    def _table_due(self, state: AppState) -> bool:
        """Whether this event writes the app's delta to the table (``TABLE_WRITE_EVERY_S``)."""
        if len(state.executors) <= TABLE_WRITE_EACH_EVENT_UP_TO:
            return True
        now = time.monotonic()
        if now - self._table_written_at.get(state.app, -math.inf) < TABLE_WRITE_EVERY_S:
            return False
        self._table_written_at[state.app] = now
        return True

    async def _on_record(self, record: Record) -> None:
        if not _only_puts_off_deadlines(record):
            self._unplanned.add(record.app)
        match record:
            case ExecutorDisconnected():
                # Folded, and its grace's end filed: the app is planned then (``_wake_loop``).
                await self._decide(Plan(state=fold(self._load(record.app), record)))
                self._wake(record.app, wake_at_ms(record, self._timings))
            case ExecutorConnected():
                # Folded only: the next tick plans the app. Planning on every event too made
                # the connects of a fleet quadratic in its size.
                await self._decide(Plan(state=fold(self._load(record.app), record)))
            case GatewayHeartbeat():
                await self._on_beat(record)
            case CommandProgress():
                state = fold(self._load(record.app), record)
                await self._decide(on_progress(state, record))
            case PollResult():
                pass  # the capture poller's business (capture.agent)
            case _:
                logger.warning("unexpected %s record on the executor events topic", record.type)

    async def _on_beat(self, beat: GatewayHeartbeat) -> None:
        """Fold a pod's beat, then compare its digest with the table (``recovery.digest``)."""
        state = fold(self._load(beat.app), beat)
        await self._decide(Plan(state=state))
        key = (beat.app, beat.gateway)
        held = self._believed[beat.app] = believed(state, self._believed.get(beat.app))
        check, ask = on_beat(self._pod_checks.get(key), held, beat)
        if check is None:
            self._pod_checks.pop(key, None)
        else:
            self._pod_checks[key] = check
        if ask is None or check is None:
            return
        mismatch_ms = beat.ts_ms - (check.mismatch_since_ms or beat.ts_ms)
        logger.info(
            "gateway %s's sessions of app %s (%s) differ from this worker's table for %d ms: "
            "asking it to list them",
            beat.gateway,
            beat.app,
            beat.session_count,
            mismatch_ms,
            extra={
                "app": beat.app,
                "gateway": beat.gateway,
                "session_count": beat.session_count,
                "mismatch_ms": mismatch_ms,
                "command_id": ask.command_id,
            },
        )
        await self._send(self._worker.commands, ask)

    async def _tick(self) -> None:
        async with self._lock:
            wall = wall_ms()
            for app, state in list(self._states.items()):
                due_ms = self._next_due_ms.get(app)
                if app in self._unplanned or (
                    due_ms is not None and event_clock(state, wall, self._timings) >= due_ms
                ):
                    await self._plan(state)

    async def _plan(self, state: AppState) -> None:
        now = event_clock(state, wall_ms(), self._timings)
        result = plan(state, now, self._timings)
        self._unplanned.discard(state.app)
        if result.next_ms is None:
            self._next_due_ms.pop(state.app, None)
        else:
            self._next_due_ms[state.app] = result.next_ms
        if result.decisions:
            await self._decide(result)

    def _wake(self, app: AppName, at_ms: int | None) -> None:
        """Plan ``app`` at ``at_ms`` (event time) too; ``None``: nothing to time. A time already
        past is left to the tick: a backlog being replayed must not plan an app per event."""
        if at_ms is not None and at_ms > wall_ms() and self._wakes.add(app, at_ms):
            self._woken.set()  # earlier than what ``_wake_loop`` sleeps until

    async def _wake_loop(self) -> None:
        """Plan each app as its wake-ups come due (``recovery.wakes``), between ticks."""
        while True:
            next_ms = self._wakes.next_ms()
            timeout_s = None if next_ms is None else max(0.0, (next_ms - wall_ms()) / 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout_s)
            self._woken.clear()
            due = self._wakes.due(wall_ms())
            if not due:
                continue
            async with self._lock:
                for app in due:
                    state = self._states.get(app)
                    if state is not None:
                        await self._plan(state)

    def _load(self, app: AppName) -> AppState:
        state = self._states.get(app)
        if state is None:
            state = self._table.load(app) or self._seed(app)
            # No deadline of it is known yet (the table may hold executors already past theirs):
            # planned at the next tick, whatever the event that loaded it.
            self._unplanned.add(app)
        return state

    def _seed(self, app: AppName) -> AppState:
        seed = self._seeds.pop(app, None)
        if seed is None:
            return AppState(app=app)
        logger.info(
            "app %s has no liveness state: starting from the %d executors the store last saw "
            "connected",
            app,
            len(seed.executors),
            extra={"app": app},
        )
        return seed

    async def _decide(self, result: Plan) -> None:
        state = result.state
        self._states[state.app] = state
        self._dirty.add(state.app)
        for decision in result.decisions:
            self._wake(state.app, wake_at_ms(decision, self._timings))
            logger.info(
                "recovery of %s: %s (%s)",
                decision.dead_executor_id,
                decision.step.value,
                decision.reason,
                extra={
                    "app": decision.app,
                    "executor_id": decision.dead_executor_id,
                    "target": decision.target,
                    "attempt": decision.attempt,
                    "command_id": decision.command_id,
                },
            )
            self._count(state, decision)
            await self._send(self._worker.audit, decision)
        for command in result.commands:
            await self._send(self._worker.commands, command)
        self._unprojected.extend(result.decisions)

    def _count(self, state: AppState, decision: RecoveryDecision) -> None:
        """``baton_recovery_decisions_total``, and for a request sent, how long after the dead
        executor's disconnect (both on the gateways' clocks)."""
        self._metrics.recovery_decisions.labels(outcome=decision.step.value).inc()
        if decision.step is not RecoveryStep.SENT:
            return
        dead = state.executors.get(decision.dead_executor_id)
        if dead is not None and dead.disconnected_at_ms is not None:
            self._metrics.recovery_sent_seconds.observe(
                max(0, decision.ts_ms - dead.disconnected_at_ms) / 1000
            )

    async def _send(self, topic: Any, record: Record) -> None:
        await topic.send(key=record_key(record), value=encode(record))

    async def _flush_projection(self) -> None:
        """Project what changed in the dirty apps (and the new decisions) into the store."""
        if not self._dirty and not self._unprojected:
            return
        changes: list[tuple[AppState, Delta]] = []
        for app in self._dirty:
            state = self._states.get(app)
            if state is not None:
                changed = delta(
                    self._projected.setdefault(app, Written.empty()), state, PROJECTION_CADENCE
                )
                if changed:
                    changes.append((state, changed))
        self._dirty = set()
        decisions, self._unprojected = self._unprojected, []
        if not changes and not decisions:
            return
        try:
            await self._projection.project([changed_part(s, d) for s, d in changes], decisions)
        except Exception:
            logger.exception(
                "projecting %d app states into the store failed; will retry", len(changes)
            )
            self._dirty.update(s.app for s, _ in changes)
            self._unprojected = decisions + self._unprojected
            return
        for state, changed in changes:
            self._projected[state.app].apply(changed)


def _only_puts_off_deadlines(record: Record) -> bool:
    """Whether folding ``record`` can only put an app's deadlines off (or leave them): then the
    app's ``Plan.next_ms`` still holds and it need not be planned at once. A beat that lists
    nothing says its pod and the sessions it holds are alive (later silence deadlines, and a
    clock that moves on: the tick compares the clock with the deadline anyway); a poll result
    is not folded."""
    match record:
        case GatewayHeartbeat():
            return not record.listed
        case PollResult():
            return True
        case _:
            return False


def changed_part(state: AppState, changed: Delta) -> AppState:
    """The part of ``state`` that ``changed`` writes (what the store's upserts need)."""
    return replace(
        state,
        executors={e.executor_id: e for e in changed.executors},
        recoveries={r.dead_executor_id: r for r in changed.recoveries},
        gateways_heard_ms=changed.gateways_heard_ms,
    )
