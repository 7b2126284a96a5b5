"""The capture poller's Faust shell: one poller per app, on the worker owning the app's partition.

A second agent on the executor events topic (the recovery agent is the first): it folds the
liveness events to know which executors of each app are live, and ``PollResult`` records into the
app's ``AppCapture`` (``capture.cursor``); a timer issues due polls to the commands topic. The
cursor is written to the ``capture-cursors`` table from the agent (Faust only lets an agent write a
table), when a result advances it, so a worker that restarts or takes over the partition goes on
from there. A rebalance drops the in-memory states; the next event of an app reloads its cursor.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from broker.faust_app import WorkerApp
from capture.cursor import (
    AppCapture,
    CaptureTimings,
    LiveExecutor,
    decode_cursor,
    encode_cursor,
    on_result,
    plan_poll,
)
from recovery.liveness import fold
from recovery.state import AppState
from runtime.clock import wall_ms
from runtime.log_throttle import LogThrottle
from streams.codec import decode, encode, record_key
from streams.exceptions import RecordError
from streams.ids import AppName
from streams.records import (
    CommandProgress,
    ExecutorConnected,
    ExecutorDisconnected,
    GatewayHeartbeat,
    PollResult,
)

logger = logging.getLogger(__name__)


class CaptureAgent:
    """Wires ``capture.cursor`` into the Faust worker."""

    def __init__(
        self, worker: WorkerApp, timings: CaptureTimings, tick_interval_s: float = 0.1
    ) -> None:
        self._worker = worker
        self._timings = timings
        self._captures: dict[AppName, AppCapture] = {}
        self._liveness: dict[AppName, AppState] = {}
        self._warnings = LogThrottle()
        self._lock = asyncio.Lock()
        app = worker.app
        app.agent(worker.executor_events, name="capture-poller")(self._consume)
        app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        app.timer(interval=tick_interval_s)(self._tick)

    def captures(self) -> list[AppCapture]:
        """The capture state of every app this worker polls (for tests and figures)."""
        return list(self._captures.values())

    async def _on_revoked(self, sender: Any, *args: Any, **kwargs: Any) -> None:
        async with self._lock:
            self._captures.clear()
            self._liveness.clear()

    async def _consume(self, stream: Any) -> None:
        async for value in stream:
            try:
                record = decode(value)
            except RecordError:
                continue  # the recovery agent logs undecodable events
            async with self._lock:
                match record:
                    case ExecutorConnected() | ExecutorDisconnected() | GatewayHeartbeat():
                        self._liveness[record.app] = fold(self._live_view(record.app), record)
                        self._load(record.app)
                    case PollResult():
                        self._on_result(record)
                    case CommandProgress():
                        pass

    def _live_view(self, app: AppName) -> AppState:
        return self._liveness.get(app) or AppState(app=app)

    def _load(self, app: AppName) -> AppCapture:
        capture = self._captures.get(app)
        if capture is None:
            raw = self._worker.capture_cursors.get(app.encode())
            cursor = None if raw is None else decode_cursor(raw)
            capture = self._captures[app] = AppCapture(app=app, cursor=cursor)
        return capture

    def _on_result(self, result: PollResult) -> None:
        before = self._load(result.app)
        after = on_result(before, result, wall_ms(), self._timings)
        self._captures[result.app] = after
        if after.cursor is not None and after.cursor != before.cursor:
            self._worker.capture_cursors[result.app.encode()] = encode_cursor(after.cursor)
        if not result.ok and self._warnings.should_log(result.app, result.ts_ms):
            logger.warning(
                "capture poll of app %s on %s failed: %s (retrying; logged once a minute per app)",
                result.app,
                result.executor_id,
                result.error,
                extra={"app": result.app, "executor_id": result.executor_id},
            )

    async def _tick(self) -> None:
        async with self._lock:
            now = wall_ms()
            for app, capture in list(self._captures.items()):
                live = [
                    LiveExecutor(executor_id=e.executor_id, gateway=e.gateway)
                    for e in self._live_view(app).live_executors()
                ]
                state, command = plan_poll(capture, live, now, self._timings)
                if command is None:
                    continue
                self._captures[app] = state
                await self._worker.commands.send(key=record_key(command), value=encode(command))
                if state.seq == 1:
                    logger.info(
                        "capturing workflow statuses of app %s through executor %s",
                        app,
                        command.target,
                        extra={"app": app, "executor_id": command.target},
                    )
