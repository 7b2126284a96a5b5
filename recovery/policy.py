"""Recovery decisions: which executors are dead, and which live executor takes their workflows.

Pure: takes an app's liveness state and the clock as arguments and returns decisions (audit
records) and commands. It never imports asyncio, Faust, Kafka or ``time``.

Rules (ARCHITECTURE.md invariants):
- an executor is dead when it has been disconnected longer than its grace period, or silent past
  the liveness timeout. The grace depends on how it left: a lone abnormal close (no close frame,
  1006: what a killed process leaves) gets the short ``isolated_grace_ms``, since a live DBOS
  client reconnects 1 s after any close and a restarted process comes back under a new executor
  id; a close that other executors of the app shared within ``crowd_window_ms`` (a pod, the load
  balancer, the network) or a clean close gets ``grace_ms``; a draining pod's, ``drain_grace_ms``;
- its recovery goes to a live executor of the same app AND application version (DBOS answers
  success but recovers nothing on a version mismatch), preferring one not tried yet and the least
  busy; with none alive the recovery is stranded until one connects;
- a try that fails, errors, times out or whose target disconnects is retried on another target;
- an executor that is connected again before any target was asked is never recovered.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, replace

from recovery.decisions import apply_decision, fold_decision, fold_decisions, prune
from recovery.state import AppState, ExecutorRecord, ExecutorState, Recovery, RecoveryState
from streams.ids import CommandId, ExecutorId
from streams.records import (
    CommandProgress,
    CommandStatus,
    ExecutorDisconnected,
    RecoverExecutor,
    RecoveryDecision,
    RecoveryStep,
)

ABNORMAL_CLOSE = 1006
"""No close frame: the TCP link dropped (RFC 6455 section 7.1.5). A killed process leaves it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryTimings:
    """The recovery agent's timers, all on event time (milliseconds)."""

    grace_ms: int = 3_000
    """How long a disconnected executor has to reconnect when its close may be infrastructure:
    a close shared with other executors of the app, or one with a close frame."""
    isolated_grace_ms: int = 1_800
    """How long it has after an abnormal close (1006) no other executor of the app shared: a
    killed process. DBOS's Python and TypeScript clients reconnect 1 s after a close (Go's
    first try: 0.5-1.5 s, jittered); Baton saw the new session 1.01-1.03 s after the close on an
    idle machine, up to 1.58 s on an overloaded one (the delay is the client's and the
    network's, before the socket is accepted), so 1.5 s was not safe. Never longer than
    ``grace_ms``."""
    crowd_window_ms: int = 1_000
    """Closes of other executors of the app this close to one make it a crowd (``grace_ms``).
    Keep it well below ``isolated_grace_ms``: a crowd member closing after this one must be
    seen before this one's grace ends."""
    drain_grace_ms: int = 30_000
    """Grace for executors whose gateway pod shut down: they reconnect to another pod."""
    liveness_timeout_ms: int = 15_000
    """A connected executor no gateway has reported for this long is dead (pod died with it)."""
    command_timeout_ms: int = 15_000
    """How long a target has to answer a recovery request before another is tried."""
    retry_backoff_ms: int = 1_000
    """Pause after a failed try before the next one."""
    clock_lead_ms: int = 4_000
    """How far the clock may run ahead of the newest event folded (see ``event_clock``)."""
    retention_ms: int = 3_600_000
    """Recovered executors and finished recoveries leave the live state after this long."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What the policy decided: audit records (already folded into ``state``) and commands."""

    state: AppState
    decisions: tuple[RecoveryDecision, ...] = ()
    commands: tuple[RecoverExecutor, ...] = ()
    next_ms: int | None = None
    """From ``plan``: the earliest event time at which planning its state again, with no other
    event folded, decides something (``None``: only an event can). Until then a plan of that
    state decides nothing, so the agent need not run one."""


def event_clock(state: AppState, wall_ms: int, timings: RecoveryTimings) -> int:
    """The time the policy may act on.

    Gateways send a heartbeat every couple of seconds, so while events flow the newest one is at
    most ``clock_lead_ms`` old and the wall clock is used: timers fire on time, measured from the
    events' own timestamps. When the newest event is older than that (the broker or every gateway
    is down, or this worker is replaying a backlog), time is the newest event's: it advances only
    as events are folded, in their order, so a reconnect still in the backlog is seen before the
    grace period it ends, and an outage of Baton never looks like the death of executors.
    """
    if wall_ms - state.watermark_ms <= timings.clock_lead_ms:
        return wall_ms
    return state.watermark_ms


def plan(state: AppState, now_ms: int, timings: RecoveryTimings) -> Plan:
    """Declare the dead, then advance every open recovery by one step.

    Linear in the app's executors and recoveries: a crowd of thousands declared dead at once (a
    gateway lost) is folded with one copy of the app's mappings, and the candidates of the
    recoveries are ranked once per plan, not once per recovery. The same walk finds the next
    deadline (``Plan.next_ms``).
    """
    closes = CloseTimes(state)
    decisions: list[RecoveryDecision] = []
    heard = state.gateways_heard_ms
    next_ms: int | None = None
    for record in state.executors.values():
        due_ms = _death_due_ms(closes, record, heard.get(record.gateway, 0), timings)
        if due_ms is None:
            continue
        if now_ms >= due_ms:
            reason = _death_reason(closes, record, heard.get(record.gateway, 0), now_ms, timings)
            decisions.append(_declared_dead(state, record, reason, now_ms))
        elif next_ms is None or due_ms < next_ms:
            next_ms = due_ms
    state = fold_decisions(state, decisions)
    if any(r.state in _OPEN for r in state.recoveries.values()):
        # Steps change recoveries only (never executors): fold them in place into one copy.
        executors, recoveries = dict(state.executors), dict(state.recoveries)
        state = replace(state, executors=executors, recoveries=recoveries)
        candidates = Candidates(state)
        for recovery in list(recoveries.values()):
            step = _advance(state, recovery, now_ms, timings, candidates)
            if step is not None:
                apply_decision(executors, recoveries, step)
                candidates.moved(recovery, recoveries[recovery.dead_executor_id])
                decisions.append(step)
        watermark_ms = max([state.watermark_ms, *(d.ts_ms for d in decisions)])
        state = replace(state, watermark_ms=watermark_ms)
        for recovery in recoveries.values():
            due_ms = _step_due_ms(state, recovery, now_ms, timings)
            if due_ms is not None and (next_ms is None or due_ms < next_ms):
                next_ms = due_ms
    commands = tuple(_command_for(state, d, timings) for d in decisions if _is_choice(d))
    state = prune(state, now_ms, timings.retention_ms)
    return Plan(state=state, decisions=tuple(decisions), commands=commands, next_ms=next_ms)


def wake_at_ms(
    record: ExecutorDisconnected | RecoveryDecision, timings: RecoveryTimings
) -> int | None:
    """The earliest event time at which ``plan`` may act on ``record`` with no other event.

    A disconnect: the end of the shortest grace its close can get (a lone abnormal close's;
    whether it is alone is for ``plan`` to say then: a crowd's longer grace is left to the tick).
    A failed try: the end of its retry backoff. ``None``: nothing to time (a revoked executor,
    another decision).

    The agent plans the app then as well as on its tick, so a death is acted on at the end of
    its grace, not up to one tick later. That moves when ``plan`` runs, never what it decides.
    """
    match record:
        case ExecutorDisconnected(revoked=True):
            return None
        case ExecutorDisconnected(draining=True):
            return record.ts_ms + timings.drain_grace_ms
        case ExecutorDisconnected(close_code=close_code) if close_code == ABNORMAL_CLOSE:
            return record.ts_ms + min(timings.isolated_grace_ms, timings.grace_ms)
        case ExecutorDisconnected():
            return record.ts_ms + timings.grace_ms
        case RecoveryDecision(step=RecoveryStep.FAILED):
            return record.ts_ms + timings.retry_backoff_ms
        case _:
            return None


def on_progress(state: AppState, progress: CommandProgress) -> Plan:
    """Turn a gateway's report on a recovery command into the matching decision."""
    recovery = _recovery_for_command(state, progress.command_id)
    if recovery is None or recovery.state is not RecoveryState.IN_FLIGHT:
        return Plan(state=state)  # an older attempt, or a duplicate: nothing to decide
    match progress.status:
        case CommandStatus.SENT if recovery.sent_at_ms is None:
            step, reason = RecoveryStep.SENT, f"recovery request sent to {recovery.target}"
        case CommandStatus.SUCCEEDED:
            step, reason = RecoveryStep.SUCCEEDED, f"{recovery.target} recovered the workflows"
        case CommandStatus.FAILED:
            step, reason = RecoveryStep.FAILED, f"{recovery.target} failed: {progress.error}"
        case _:
            return Plan(state=state)
    decision = _decision(state, recovery, step, reason, progress.ts_ms)
    return Plan(state=fold_decision(state, decision), decisions=(decision,))


def _death_due_ms(
    closes: CloseTimes, record: ExecutorRecord, gateway_heard_ms: int, timings: RecoveryTimings
) -> int | None:
    """When ``record`` is dead if nothing is heard of it meanwhile (``None``: never by time
    alone). A connected executor is silent only while its gateway pod is too
    (``AppState.gateways_heard_ms``): a pod that still speaks holds its sessions, and one it
    lost without a close is found by its next listing."""
    match record.state:
        case ExecutorState.CONNECTED:
            return max(record.last_seen_ms, gateway_heard_ms) + timings.liveness_timeout_ms
        case ExecutorState.DISCONNECTED if record.revoked:
            # Locked out by an operator, not dead: its process may still be running workflows,
            # and recovering them elsewhere would run in-flight steps twice.
            return None
        case ExecutorState.DISCONNECTED:
            gone_at_ms = record.disconnected_at_ms or record.updated_ms
            return gone_at_ms + disconnect_grace(closes, record, timings).ms
        case _:
            return None


def _death_reason(
    closes: CloseTimes,
    record: ExecutorRecord,
    gateway_heard_ms: int,
    now_ms: int,
    timings: RecoveryTimings,
) -> str:
    """Why ``record``, past its ``_death_due_ms``, is dead."""
    if record.state is ExecutorState.CONNECTED:
        silent_s = (now_ms - max(record.last_seen_ms, gateway_heard_ms)) / 1000
        return (
            f"silent for {silent_s:.1f} s (liveness timeout "
            f"{timings.liveness_timeout_ms / 1000:.1f} s): its gateway stopped reporting it"
        )
    grace = disconnect_grace(closes, record, timings)
    return (
        f"disconnected ({grace.why}: {record.close_reason or 'no reason'}) and not back "
        f"within {grace.ms / 1000:.1f} s"
    )


def _step_due_ms(
    state: AppState, recovery: Recovery, now_ms: int, timings: RecoveryTimings
) -> int | None:
    """When a recovery just advanced (or left alone) by a plan at ``now_ms`` may take its next
    step by time alone (``None``: only an event moves it: a reply, or a target connecting)."""
    match recovery.state:
        case RecoveryState.IN_FLIGHT if recovery.chosen_at_ms is not None:
            return recovery.chosen_at_ms + timings.command_timeout_ms
        case RecoveryState.PENDING | RecoveryState.STRANDED if _reconnected(state, recovery):
            # Abandoned at the next plan, backoff or not: a try that failed in this plan left
            # it pending after its executor had come back.
            return now_ms
        case RecoveryState.PENDING:
            # Left pending by a plan only within its retry backoff (else it chose or stranded).
            if recovery.failed_at_ms is None:
                return now_ms
            return max(now_ms, recovery.failed_at_ms + timings.retry_backoff_ms)
        case _:
            # Stranded (it waits for an executor of its version to connect), or finished.
            return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Grace:
    """How long a disconnected executor has to come back, and why that long."""

    ms: int
    why: str


def disconnect_grace(closes: CloseTimes, record: ExecutorRecord, timings: RecoveryTimings) -> Grace:
    """The grace period of ``record``'s latest disconnect, from how it closed and who else did."""
    if record.draining:
        return Grace(ms=timings.drain_grace_ms, why="its gateway drained")
    code = f"close code {record.close_code}"
    if record.close_code != ABNORMAL_CLOSE:
        return Grace(ms=timings.grace_ms, why=code)
    crowd = closes.crowd_of(record, timings)
    if crowd:
        why = f"{code} with {crowd} other session(s) of the app within the crowd window"
        return Grace(ms=timings.grace_ms, why=why)
    return Grace(ms=min(timings.isolated_grace_ms, timings.grace_ms), why=f"{code}, alone")


class CloseTimes:
    """The latest close of each executor of an app, sorted once (on first use) so that a crowd
    is counted in log time: a pod's restart closes thousands of sessions at once."""

    def __init__(self, state: AppState) -> None:
        self._state = state
        self._sorted: list[int] | None = None

    def crowd_of(self, record: ExecutorRecord, timings: RecoveryTimings) -> int:
        """How many other executors of the app closed within ``crowd_window_ms`` of
        ``record``'s latest close, before or after it (their reconnects since do not matter:
        they closed)."""
        closed_at_ms = record.closed_at_ms if record.disconnected_at_ms is not None else None
        if closed_at_ms is None:
            return 0
        if self._sorted is None:
            self._sorted = sorted(
                e.closed_at_ms for e in self._state.executors.values() if e.closed_at_ms is not None
            )
        window = timings.crowd_window_ms
        near = bisect_right(self._sorted, closed_at_ms + window) - bisect_left(
            self._sorted, closed_at_ms - window
        )
        own = record.closed_at_ms
        return near - (1 if own is not None and abs(own - closed_at_ms) <= window else 0)


def _declared_dead(
    state: AppState, record: ExecutorRecord, reason: str, now_ms: int
) -> RecoveryDecision:
    return RecoveryDecision(
        app=state.app,
        dead_executor_id=record.executor_id,
        application_version=record.info.application_version,
        step=RecoveryStep.DECLARED_DEAD,
        reason=reason,
        ts_ms=now_ms,
    )


_OPEN = frozenset({RecoveryState.PENDING, RecoveryState.STRANDED, RecoveryState.IN_FLIGHT})
"""The recoveries a plan advances."""


def _advance(
    state: AppState,
    recovery: Recovery,
    now_ms: int,
    timings: RecoveryTimings,
    candidates: Candidates,
) -> RecoveryDecision | None:
    match recovery.state:
        case RecoveryState.IN_FLIGHT:
            return _check_in_flight(state, recovery, now_ms, timings)
        case RecoveryState.PENDING | RecoveryState.STRANDED:
            return _choose(state, recovery, now_ms, timings, candidates)
        case _:
            return None


def _check_in_flight(
    state: AppState, recovery: Recovery, now_ms: int, timings: RecoveryTimings
) -> RecoveryDecision | None:
    target = state.executors.get(recovery.target) if recovery.target else None
    if target is None or target.state is not ExecutorState.CONNECTED:
        reason = f"target {recovery.target} disconnected before answering"
    elif (
        recovery.chosen_at_ms is not None
        and now_ms - recovery.chosen_at_ms >= timings.command_timeout_ms
    ):
        reason = f"no answer from {recovery.target} within {timings.command_timeout_ms / 1000} s"
    else:
        return None
    return _decision(state, recovery, RecoveryStep.FAILED, reason, now_ms)


def _reconnected(state: AppState, recovery: Recovery) -> bool:
    """Whether the executor ``recovery`` is for is connected again."""
    dead = state.executors.get(recovery.dead_executor_id)
    return dead is not None and dead.state is ExecutorState.CONNECTED


def _choose(
    state: AppState,
    recovery: Recovery,
    now_ms: int,
    timings: RecoveryTimings,
    candidates: Candidates,
) -> RecoveryDecision | None:
    if _reconnected(state, recovery):
        reason = "the executor reconnected: a live executor is never recovered"
        return _decision(state, recovery, RecoveryStep.ABANDONED, reason, now_ms)
    failed_at_ms = recovery.failed_at_ms
    if failed_at_ms is not None and now_ms - failed_at_ms < timings.retry_backoff_ms:
        return None
    target = candidates.best(recovery)
    if target is None:
        if recovery.state is RecoveryState.STRANDED:
            return None
        reason = f"no live executor of application version {recovery.application_version!r}"
        return _decision(state, recovery, RecoveryStep.STRANDED, reason, now_ms)
    attempt = recovery.attempt + 1
    reason = (
        f"live executor of version {recovery.application_version!r} "
        f"on {target.info.hostname or 'unknown host'} via {target.gateway}"
        + (f" (retry {attempt - 1})" if attempt > 1 else "")
    )
    return RecoveryDecision(
        app=state.app,
        dead_executor_id=recovery.dead_executor_id,
        application_version=recovery.application_version,
        step=RecoveryStep.TARGET_CHOSEN,
        reason=reason,
        ts_ms=now_ms,
        attempt=attempt,
        target=target.executor_id,
        command_id=CommandId(
            f"recover/{state.app}/{recovery.dead_executor_id}/{recovery.declared_at_ms}/{attempt}"
        ),
    )


class Candidates:
    """The live executors a plan may choose recovery targets from: untried first, then least
    busy (recoveries in flight to it), then longest connected.

    Built once per plan (executors do not change while it advances recoveries) and told of each
    step (``moved``), so each choice scans the live executors of its version in connection
    order only until one that is untried and idle, instead of sorting them all.
    """

    def __init__(self, state: AppState) -> None:
        self._state = state
        self._by_version: dict[str, list[ExecutorRecord]] | None = None
        self._load: Counter[ExecutorId] = Counter(
            r.target
            for r in state.recoveries.values()
            if r.state is RecoveryState.IN_FLIGHT and r.target is not None
        )

    def best(self, recovery: Recovery) -> ExecutorRecord | None:
        """The best target for ``recovery`` (``None``: no live executor of its version)."""
        best: ExecutorRecord | None = None
        best_key: tuple[bool, int] | None = None
        for record in self._live(recovery.application_version):
            if record.executor_id == recovery.dead_executor_id:
                continue
            key = (record.executor_id in recovery.tried, self._load[record.executor_id])
            if best_key is None or key < best_key:
                best, best_key = record, key
                if key == (False, 0):
                    break
        return best

    def moved(self, before: Recovery, after: Recovery) -> None:
        """A step took a recovery from ``before`` to ``after``: keep the loads exact."""
        if before.state is RecoveryState.IN_FLIGHT and before.target is not None:
            self._load[before.target] -= 1
        if after.state is RecoveryState.IN_FLIGHT and after.target is not None:
            self._load[after.target] += 1

    def _live(self, version: str) -> list[ExecutorRecord]:
        if self._by_version is None:
            by_version: dict[str, list[ExecutorRecord]] = {}
            for record in sorted(
                self._state.live_executors(), key=lambda e: (e.connected_at_ms, e.executor_id)
            ):
                by_version.setdefault(record.info.application_version, []).append(record)
            self._by_version = by_version
        return self._by_version.get(version, [])


def _decision(
    state: AppState, recovery: Recovery, step: RecoveryStep, reason: str, ts_ms: int
) -> RecoveryDecision:
    return RecoveryDecision(
        app=state.app,
        dead_executor_id=recovery.dead_executor_id,
        application_version=recovery.application_version,
        step=step,
        reason=reason,
        ts_ms=ts_ms,
        attempt=recovery.attempt,
        target=recovery.target,
        command_id=recovery.command_id,
    )


def _recovery_for_command(state: AppState, command_id: CommandId) -> Recovery | None:
    for recovery in state.recoveries.values():
        if recovery.command_id == command_id:
            return recovery
    return None


def _is_choice(decision: RecoveryDecision) -> bool:
    return decision.step is RecoveryStep.TARGET_CHOSEN


def _command_for(
    state: AppState, decision: RecoveryDecision, timings: RecoveryTimings
) -> RecoverExecutor:
    assert decision.target is not None
    assert decision.command_id is not None
    target: ExecutorRecord | None = state.executors.get(decision.target)
    return RecoverExecutor(
        command_id=decision.command_id,
        app=state.app,
        target=ExecutorId(decision.target),
        target_gateway=None if target is None else target.gateway,
        dead_executor_id=decision.dead_executor_id,
        issued_at_ms=decision.ts_ms,
        timeout_ms=timings.command_timeout_ms,
    )
