"""What changed in an app's state since it was last written somewhere: the deltas the worker
writes to its ``liveness`` table and projects into the store.

An executor whose material changed (``recovery.state.executor_material``) is always written;
one whose only change is its last-seen clock (every heartbeat moves it) is written once it is
``clock_every_ms`` ahead of the written copy, at most ``clock_budget`` of them per delta, so the
writes of a large fleet stay bounded and spread. Recoveries change rarely: any change is
written. Records gone from the state (pruned) are deleted. Where the pods' clocks are kept
(``heard_every_ms``: the store, whose readers take a connected executor's last seen from its
pod's), a pod's is written once it is that far ahead of the written copy.

Pure: no Faust, Kafka, asyncio or clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from recovery.state import AppState, ExecutorRecord, Recovery, executor_material
from streams.ids import ExecutorId, GatewayId


@dataclass(frozen=True, slots=True, kw_only=True)
class Cadence:
    """How often clock-only changes are written, and how many at once."""

    clock_every_ms: int
    """A last-seen clock this far ahead of the written copy is written."""
    clock_budget: int
    """At most this many clock-only writes per delta (the rest wait for the next one)."""
    heard_every_ms: int | None = None
    """A pod's clock (``AppState.gateways_heard_ms``) this far ahead of the written copy is
    written; ``None``: the pods' clocks are not written (the liveness table)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Delta:
    """The writes that bring a written copy of an app's state up to date."""

    executors: tuple[ExecutorRecord, ...] = ()
    """Executor records to write (new, changed, or whose clock is due)."""
    gone_executors: tuple[ExecutorId, ...] = ()
    recoveries: tuple[Recovery, ...] = ()
    gone_recoveries: tuple[ExecutorId, ...] = ()
    gateways_heard_ms: Mapping[GatewayId, int] = field(default_factory=dict)
    """Pods' clocks to write (see ``Cadence.heard_every_ms``)."""

    def __bool__(self) -> bool:
        return bool(
            self.executors
            or self.gone_executors
            or self.recoveries
            or self.gone_recoveries
            or self.gateways_heard_ms
        )


@dataclass(slots=True)
class Written:
    """The copy of one app's state a destination holds (the shell applies each delta to it)."""

    executors: dict[ExecutorId, ExecutorRecord]
    recoveries: dict[ExecutorId, Recovery]
    gateways_heard_ms: dict[GatewayId, int] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Written:
        return cls(executors={}, recoveries={})

    def apply(self, delta: Delta) -> None:
        for record in delta.executors:
            self.executors[record.executor_id] = record
        for executor_id in delta.gone_executors:
            self.executors.pop(executor_id, None)
        for recovery in delta.recoveries:
            self.recoveries[recovery.dead_executor_id] = recovery
        for executor_id in delta.gone_recoveries:
            self.recoveries.pop(executor_id, None)
        self.gateways_heard_ms.update(delta.gateways_heard_ms)


def delta(written: Written, state: AppState, cadence: Cadence) -> Delta:
    """The writes that bring ``written`` up to ``state``."""
    return Delta(
        executors=_executor_writes(written.executors, state.executors, cadence),
        gone_executors=_gone(written.executors, state.executors),
        recoveries=tuple(r for k, r in state.recoveries.items() if written.recoveries.get(k) != r),
        gone_recoveries=_gone(written.recoveries, state.recoveries),
        gateways_heard_ms=_heard_writes(written.gateways_heard_ms, state, cadence),
    )


def _heard_writes(
    written: Mapping[GatewayId, int], state: AppState, cadence: Cadence
) -> dict[GatewayId, int]:
    every = cadence.heard_every_ms
    if every is None:
        return {}
    return {
        gateway: ms
        for gateway, ms in state.gateways_heard_ms.items()
        if gateway not in written or ms - written[gateway] >= every
    }


def _executor_writes(
    written: Mapping[ExecutorId, ExecutorRecord],
    current: Mapping[ExecutorId, ExecutorRecord],
    cadence: Cadence,
) -> tuple[ExecutorRecord, ...]:
    writes: list[ExecutorRecord] = []
    budget = cadence.clock_budget
    for executor_id, record in current.items():
        before = written.get(executor_id)
        if before is record:
            continue
        if before is None or executor_material(before) != executor_material(record):
            writes.append(record)
        elif budget > 0 and record.last_seen_ms - before.last_seen_ms >= cadence.clock_every_ms:
            writes.append(record)
            budget -= 1
    return tuple(writes)


def _gone(
    written: Mapping[ExecutorId, object], current: Mapping[ExecutorId, object]
) -> tuple[ExecutorId, ...]:
    return tuple(k for k in written if k not in current)
