"""The capture poller's Faust shell: one poller per app, on the worker owning the app's partition.

The apps and their live executors come from the ``LivenessView`` (the recovery agent's, the one
liveness view of the worker): an app is polled while the view lists it, which it does for the apps
of this worker's partitions of the executor events topic. A second agent on that topic (the
recovery agent is the first) takes only the ``PollResult`` records, folding them into the app's
``AppCapture`` (``capture.cursor``); a timer issues due polls to the commands topic. The cursor is
written to the ``capture-cursors`` table from the agent (Faust only lets an agent write a table),
when a result advances it, so a worker that restarts or takes over the partition goes on from
there. A rebalance drops the in-memory states; the cursors are then read from the table again.

Payload privacy: the apps with it on come from the store (``PrivateApps``), read again every
``privacy_refresh_ms``; their polls ask for no inputs, outputs or errors. Until the set was read
once no poll is issued (one might ask for what it must not); when a later read fails, the last set
read stands.

Must not import ``recovery`` or ``store``: the view and the settings are seams (``LivenessView``,
``PrivateApps``), wired in ``baton.worker``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from broker.faust_app import WorkerApp
from capture.cursor import (
    AppCapture,
    CaptureTimings,
    LiveExecutor,
    decode_cursor,
    encode_cursor,
    on_result,
    plan_poll,
    poll_due,
)
from runtime.clock import wall_ms
from runtime.log_throttle import LogThrottle
from streams.codec import decode, encode, peek_type, record_key
from streams.exceptions import RecordError
from streams.ids import AppName
from streams.records import PollResult, RecordType

logger = logging.getLogger(__name__)


class LivenessView(Protocol):
    """The executors' liveness as this worker knows it (the recovery agent keeps it)."""

    def apps(self) -> Sequence[AppName]:
        """The apps of this worker's partitions of the executor events topic seen so far."""
        ...

    def live_executors(self, app: AppName) -> Sequence[LiveExecutor]:
        """The connected executors of ``app`` (none when the app is not this worker's)."""
        ...


class PrivateApps(Protocol):
    """Which apps have payload privacy on (``store.app_settings`` keeps the setting)."""

    async def private_apps(self) -> frozenset[AppName]:
        """Every app with payload privacy on.

        Raises:
            Exception: the setting could not be read (the store is unreachable).
        """
        ...


PRIVACY_REFRESH_MS = 2_000
"""How often the set of private apps is read again: a switch takes effect within this."""


class CaptureAgent:
    """Wires ``capture.cursor`` into the Faust worker."""

    def __init__(
        self,
        worker: WorkerApp,
        liveness: LivenessView,
        timings: CaptureTimings,
        privacy: PrivateApps,
        tick_interval_s: float = 0.1,
        privacy_refresh_ms: int = PRIVACY_REFRESH_MS,
    ) -> None:
        self._worker = worker
        self._liveness = liveness
        self._timings = timings
        self._privacy = privacy
        self._privacy_refresh_ms = privacy_refresh_ms
        self._private: frozenset[AppName] | None = None
        """``None`` until the set of private apps was read once."""
        self._private_read_ms: int | None = None
        """When the set was last read (or tried); ``None``: never."""
        self._captures: dict[AppName, AppCapture] = {}
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

    async def _consume(self, stream: Any) -> None:
        async for value in stream:
            if peek_type(value) not in (None, RecordType.POLL_RESULT):
                continue  # liveness events (the recovery agent's), not worth decoding twice
            try:
                record = decode(value)
            except RecordError:
                continue  # the recovery agent logs undecodable events
            if isinstance(record, PollResult):  # liveness events: the recovery agent's
                async with self._lock:
                    self._on_result(record)

    def _load(self, app: AppName) -> AppCapture:
        capture = self._captures.get(app)
        if capture is None:
            raw = self._worker.capture_cursors.get(app.encode())
            cursor = None if raw is None else decode_cursor(raw)
            capture = self._captures[app] = AppCapture(app=app, cursor=cursor)
        return capture

    def _followed(self) -> list[AppCapture]:
        """The captures of the apps the liveness view lists, loading the new ones' cursors; the
        others are dropped (no longer this worker's)."""
        apps = list(self._liveness.apps())
        listed = set(apps)
        for gone in [app for app in self._captures if app not in listed]:
            del self._captures[gone]
        return [self._load(app) for app in apps]

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

    async def _refresh_private(self, now_ms: int) -> frozenset[AppName] | None:
        """The apps with payload privacy on, read again once ``privacy_refresh_ms`` passed."""
        last = self._private_read_ms
        if last is not None and now_ms - last < self._privacy_refresh_ms:
            return self._private
        self._private_read_ms = now_ms
        try:
            private = await self._privacy.private_apps()
        # Whatever the store's driver raises (the seam hides which): the poller goes on with
        # the last set read, and logs the cause once a minute.
        except Exception as exc:  # noqa: BLE001
            if self._warnings.should_log("payload privacy", now_ms):
                logger.warning(
                    "could not read which apps have payload privacy on (%s)%s; logged once a "
                    "minute",
                    exc,
                    "" if self._private is not None else ": no capture poll until it can",
                )
            return self._private
        for app in sorted(private ^ (self._private or frozenset())):
            logger.info(
                "payload privacy %s for app %s: its capture polls ask for %s payloads",
                "on" if app in private else "off",
                app,
                "no" if app in private else "the",
                extra={"app": app},
            )
        self._private = private
        return private

    async def _tick(self) -> None:
        private = await self._refresh_private(wall_ms())
        if private is None:
            return  # not known yet: a poll might ask for payloads it must not
        async with self._lock:
            now = wall_ms()
            for capture in self._followed():
                if not poll_due(capture, now, self._timings):
                    continue  # spares listing the live executors of every app every tick
                live = self._liveness.live_executors(capture.app)
                state, command = plan_poll(
                    capture, live, now, self._timings, payloads_private=capture.app in private
                )
                if command is None:
                    continue
                self._captures[capture.app] = state
                await self._worker.commands.send(key=record_key(command), value=encode(command))
                if state.seq == 1:
                    logger.info(
                        "capturing workflow statuses of app %s through executor %s",
                        capture.app,
                        command.target,
                        extra={"app": capture.app, "executor_id": command.target},
                    )
