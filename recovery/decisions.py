"""The recovery state machine: folding recovery decisions into an app's state, and pruning it.

A decision comes from the policy (``recovery.policy``) or is replayed from the audit topic; the
fold is idempotent (a duplicated declaration does not reopen a recovery, a late step cannot reopen
a finished one). ``prune`` keeps the live state bounded.

Pure: no Faust, Kafka, asyncio or clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from recovery.state import AppState, ExecutorRecord, ExecutorState, Recovery, RecoveryState
from streams.ids import ExecutorId
from streams.records import RecoveryDecision, RecoveryStep


def fold_decision(state: AppState, decision: RecoveryDecision) -> AppState:
    """Fold a recovery decision (from the policy, or replayed from the audit topic)."""
    return fold_decisions(state, (decision,))


def fold_decisions(state: AppState, decisions: Sequence[RecoveryDecision]) -> AppState:
    """Fold several decisions in order, copying the app's mappings once (not once each: a crowd
    of thousands declared dead in one tick would be quadratic in the fleet)."""
    if not decisions:
        return state
    executors = dict(state.executors)
    recoveries = dict(state.recoveries)
    for decision in decisions:
        apply_decision(executors, recoveries, decision)
    return replace(
        state,
        executors=executors,
        recoveries=recoveries,
        watermark_ms=max(state.watermark_ms, max(d.ts_ms for d in decisions)),
    )


def apply_decision(
    executors: dict[ExecutorId, ExecutorRecord],
    recoveries: dict[ExecutorId, Recovery],
    decision: RecoveryDecision,
) -> None:
    """Fold one decision into an app's mappings, in place (the watermark is the caller's)."""
    dead_id = decision.dead_executor_id
    current = recoveries.get(dead_id)
    match decision.step:
        case RecoveryStep.DECLARED_DEAD if current and current.declared_at_ms >= decision.ts_ms:
            pass  # a replayed or duplicated declaration: that recovery is already under way
        case RecoveryStep.DECLARED_DEAD:
            record = executors.get(dead_id)
            if record is not None:
                executors[dead_id] = replace(
                    record, state=ExecutorState.DEAD, updated_ms=decision.ts_ms
                )
            recoveries[dead_id] = Recovery(
                dead_executor_id=dead_id,
                application_version=decision.application_version,
                state=RecoveryState.PENDING,
                declared_at_ms=decision.ts_ms,
                updated_ms=decision.ts_ms,
                reason=decision.reason,
            )
        case _ if current is None:
            pass  # a decision about a recovery this state never saw declared: nothing to update
        case RecoveryStep.SUCCEEDED:
            record = executors.get(dead_id)
            if record is not None and record.state is ExecutorState.DEAD:
                executors[dead_id] = replace(
                    record, state=ExecutorState.RECOVERED, updated_ms=decision.ts_ms
                )
            recoveries[dead_id] = _recovery_step(current, decision, RecoveryState.SUCCEEDED)
        case _:
            recoveries[dead_id] = _recovery_step(current, decision, _NEXT_STATE[decision.step])


_NEXT_STATE = {
    RecoveryStep.TARGET_CHOSEN: RecoveryState.IN_FLIGHT,
    RecoveryStep.SENT: RecoveryState.IN_FLIGHT,
    RecoveryStep.FAILED: RecoveryState.PENDING,
    RecoveryStep.STRANDED: RecoveryState.STRANDED,
    RecoveryStep.ABANDONED: RecoveryState.ABANDONED,
}


def _recovery_step(current: Recovery, decision: RecoveryDecision, state: RecoveryState) -> Recovery:
    if current.state in (RecoveryState.SUCCEEDED, RecoveryState.ABANDONED):
        return current  # a late or duplicated step cannot reopen a finished recovery
    match decision.step:
        case RecoveryStep.TARGET_CHOSEN:
            return replace(
                current,
                state=state,
                attempt=decision.attempt,
                target=decision.target,
                command_id=decision.command_id,
                chosen_at_ms=decision.ts_ms,
                sent_at_ms=None,
                updated_ms=decision.ts_ms,
                tried=_tried_with(current.tried, decision.target),
                reason=decision.reason,
            )
        case RecoveryStep.SENT:
            return replace(current, sent_at_ms=decision.ts_ms, updated_ms=decision.ts_ms)
        case RecoveryStep.FAILED:
            return replace(
                current,
                state=state,
                failed_at_ms=decision.ts_ms,
                updated_ms=decision.ts_ms,
                reason=decision.reason,
            )
        case _:
            return replace(current, state=state, updated_ms=decision.ts_ms, reason=decision.reason)


def _tried_with(tried: tuple[ExecutorId, ...], target: ExecutorId | None) -> tuple[ExecutorId, ...]:
    if target is None or target in tried:
        return tried
    return (*tried, target)


def prune(state: AppState, now_ms: int, retention_ms: int) -> AppState:
    """Forget finished business older than ``retention_ms``: recovered executors and finished
    recoveries. DBOS gives every process a new executor id, so without this the state would grow
    with every restart; the SQL store keeps the history."""
    horizon = now_ms - retention_ms
    finished = (RecoveryState.SUCCEEDED, RecoveryState.ABANDONED)
    if not any(
        r.state in finished and r.updated_ms < horizon for r in state.recoveries.values()
    ) and not any(
        e.state is ExecutorState.RECOVERED and e.updated_ms < horizon
        for e in state.executors.values()
    ):
        return state  # the usual case, without copying thousands of executors
    recoveries = {
        k: r
        for k, r in state.recoveries.items()
        if not (r.state in finished and r.updated_ms < horizon)
    }
    executors = {
        k: e
        for k, e in state.executors.items()
        if not (e.state is ExecutorState.RECOVERED and e.updated_ms < horizon)
    }
    if len(recoveries) == len(state.recoveries) and len(executors) == len(state.executors):
        return state
    return replace(state, executors=executors, recoveries=recoveries)
