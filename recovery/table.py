"""The ``liveness`` table: an app's state as one entry per executor and per recovery.

Keys are ``{app} e {executor_id}`` (an ``ExecutorRecord``) and ``{app} r {executor_id}`` (the
``Recovery`` of that dead executor), joined by ``\\x1f`` (the ASCII unit separator), so no value
grows with the fleet, and each write is a delta (``recovery.delta``): what changed since this
worker last wrote, clocks at a slow cadence.

Faust writes a table's changelog to the partition of the event being processed, so ``write`` is
only valid inside the agent handling an event of that app (the topics are keyed by app). After a
rebalance the table is rebuilt from its changelog; ``load`` rebuilds an app's state from its
entries, through an index of the table's keys by app built once per rebalance.

Faust-free: the table is any mutable mapping of bytes to bytes (the Faust table at run time).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import replace

from recovery.delta import Cadence, Delta, Written, delta
from recovery.state import (
    AppState,
    ExecutorRecord,
    ExecutorState,
    Recovery,
    decode_executor,
    decode_recovery,
    encode_executor,
    encode_recovery,
    state_of,
)
from streams.ids import AppName, ExecutorId

SEPARATOR = b"\x1f"
EXECUTOR = b"e"
RECOVERY = b"r"

TABLE_CADENCE = Cadence(clock_every_ms=3_600_000, clock_budget=500)
"""Clock-only changes reach the changelog once an hour per executor, at most 500 per event. The
changelog keeps every write (the embedded broker expires nothing): every 30 s this was ~130 MB a
day for 100 idle executors, every 5 min ~120 MB a day for 1,000. A clock is only read back after
a rebalance, and ``load`` raises connected executors to the app's newest event anyway (the next
heartbeats then move them; a pod gone meanwhile leaves its executors silent, as it should)."""


def entry_key(app: AppName, kind: bytes, executor_id: ExecutorId) -> bytes:
    """The table key of an app's executor (``EXECUTOR``) or recovery (``RECOVERY``) entry."""
    return SEPARATOR.join((app.encode(), kind, executor_id.encode()))


class LivenessTable:
    """Per-app reads and delta writes over the ``liveness`` table."""

    def __init__(self, table: MutableMapping[bytes, bytes]) -> None:
        self._table = table
        self._written: dict[AppName, Written] = {}
        self._index: dict[AppName, list[bytes]] | None = None

    def forget(self) -> None:
        """After a rebalance: what this worker wrote is no longer known, the keys may differ."""
        self._written.clear()
        self._index = None

    def load(self, app: AppName) -> AppState | None:
        """The app's state as its entries say (``None``: the table has none).

        Clocks are written at a slow cadence, so a connected executor's last-seen is raised to
        the newest event time of the app's entries: the gateways' next heartbeats set it, and
        no executor looks silent for the delay of the table's writes alone.
        """
        keys = self._keys().pop(app, [])
        executors: list[ExecutorRecord] = []
        recoveries: list[Recovery] = []
        for key in keys:
            raw = self._table.get(key)
            if raw is None:
                continue
            if key.split(SEPARATOR, 2)[1] == EXECUTOR:
                executors.append(decode_executor(raw))
            else:
                recoveries.append(decode_recovery(raw))
        if not executors and not recoveries:
            return None
        state = state_of(app, executors, recoveries)
        self._written[app] = Written(
            executors=dict(state.executors), recoveries=dict(state.recoveries)
        )
        return replace(
            state,
            executors={k: _seen_by(e, state.watermark_ms) for k, e in state.executors.items()},
        )

    def write(self, state: AppState) -> Delta:
        """Write what changed since the last write of ``state.app`` (inside its event)."""
        written = self._written.setdefault(state.app, Written.empty())
        changes = delta(written, state, TABLE_CADENCE)
        for record in changes.executors:
            self._table[entry_key(state.app, EXECUTOR, record.executor_id)] = encode_executor(
                record
            )
        for executor_id in changes.gone_executors:
            self._table.pop(entry_key(state.app, EXECUTOR, executor_id), None)
        for recovery in changes.recoveries:
            key = entry_key(state.app, RECOVERY, recovery.dead_executor_id)
            self._table[key] = encode_recovery(recovery)
        for executor_id in changes.gone_recoveries:
            self._table.pop(entry_key(state.app, RECOVERY, executor_id), None)
        written.apply(changes)
        return changes

    def _keys(self) -> dict[AppName, list[bytes]]:
        if self._index is None:
            index: dict[AppName, list[bytes]] = {}
            for key in list(self._table.keys()):
                app = AppName(key.split(SEPARATOR, 1)[0].decode())
                index.setdefault(app, []).append(key)
            self._index = index
        return self._index


def _seen_by(record: ExecutorRecord, watermark_ms: int) -> ExecutorRecord:
    if record.state is not ExecutorState.CONNECTED or record.last_seen_ms >= watermark_ms:
        return record
    return replace(record, last_seen_ms=watermark_ms)
