"""Liveness and readiness of one role: what ``/healthz`` and ``/readyz`` answer.

``Readiness`` runs the role's checks (can it reach Kafka? its store?) every ``interval_s`` in a
background loop, keeps their last results (an answer runs them again if they are older than
``FRESH_S``), and logs a line when a dependency becomes unreachable
and one when it is back, never more. Each check is an async callable returning ``None`` when the
dependency answers, or a short reason when it does not; ``broker.reachability`` and
``store.reachability`` make them.

- ``/readyz``: 200 ``{"status": "ready"}`` while every check passes, else 503
  ``{"status": "unready", "unreachable": {"kafka": "...", ...}}`` (a load balancer or an
  orchestrator stops sending work).
- ``/healthz``: the process is alive and its loops run. 503 ``{"status": "failed", "reason":
  ...}`` when a part of the role has failed or the checks stopped running; else 200, with
  ``{"status": "ok"}`` while ready and ``{"status": "degraded", "unreachable": {...}}`` while
  not: restarting a role whose broker is gone would not bring the broker back, so liveness stays
  true and the body says what is wrong.

Imports nothing of Baton's but ``runtime.lifecycle``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from runtime.lifecycle import Service

logger = logging.getLogger(__name__)

Check = Callable[[], Awaitable[str | None]]
"""A dependency check: ``None`` when it answers, else why not (short, no secrets)."""
Liveness = Callable[[], str | None]
"""``None`` while the role's parts run, else what failed."""

READY_INTERVAL_S = 2.0
CHECK_TIMEOUT_S = 3.0
FRESH_S = 0.5
"""An answer older than this is checked again on the spot: a probe sees an outage shorter than
``interval_s`` (a broker restarted within a second)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeAnswer:
    """An answer of ``/healthz`` or ``/readyz``: an HTTP status and a JSON body."""

    status: int
    body: Mapping[str, Any] = field(default_factory=dict)


class Readiness(Service):
    """The checks of one role, run every ``interval_s``; answers ``/healthz`` and ``/readyz``.

    Before it is started (or once stopped) an answer runs the checks on the spot.

    Args:
        role: names the role in log lines.
        checks: dependency name (``kafka``, ``store``) -> its check.
        interval_s: pause between two rounds of checks.
        timeout_s: a check that takes longer has failed ("no answer in N s").
    """

    def __init__(
        self,
        role: str,
        checks: Mapping[str, Check],
        *,
        interval_s: float = READY_INTERVAL_S,
        timeout_s: float = CHECK_TIMEOUT_S,
    ) -> None:
        super().__init__(f"{role} readiness")
        self.role = role
        self._checks = dict(checks)
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._problems: dict[str, str] = {}
        self._last_round = 0.0
        self._ticked = 0.0
        """When the loop last began a round (liveness: the loop runs)."""
        self._round_lock = asyncio.Lock()
        self._liveness: list[Liveness] = []

    def add_check(self, name: str, check: Check) -> None:
        """Add the dependency check ``name`` (before the first round, e.g. a check the role's
        own service provides).

        Raises:
            ValueError: a check of that name exists.
        """
        if name in self._checks:
            raise ValueError(f"readiness of {self.role} already has a {name!r} check")
        self._checks[name] = check

    def watch(self, liveness: Liveness) -> None:
        """Make ``liveness`` part of ``/healthz`` (e.g. "the Faust app has stopped")."""
        self._liveness.append(liveness)

    @property
    def problems(self) -> dict[str, str]:
        """The unreachable dependencies of the last round, and why."""
        return dict(self._problems)

    async def readyz(self) -> ProbeAnswer:
        problems = await self._current()
        if problems:
            return ProbeAnswer(status=503, body={"status": "unready", "unreachable": problems})
        return ProbeAnswer(status=200, body={"status": "ready"})

    async def healthz(self) -> ProbeAnswer:
        failed = self._failure()
        if failed is not None:
            return ProbeAnswer(status=503, body={"status": "failed", "reason": failed})
        problems = await self._current()
        if problems:
            return ProbeAnswer(status=200, body={"status": "degraded", "unreachable": problems})
        return ProbeAnswer(status=200, body={"status": "ok"})

    async def _start(self, stack: AsyncExitStack) -> None:
        # The first round runs in the loop: starting a role never waits for its checks.
        self._ticked = time.monotonic()
        self.tasks.loop("checks", self._loop())

    async def _loop(self) -> None:
        while True:
            self._ticked = time.monotonic()
            await self._round()
            await asyncio.sleep(self._interval_s)

    async def _current(self) -> dict[str, str]:
        if not self.running or time.monotonic() - self._last_round > FRESH_S:
            await self._round()
        return self.problems

    def _failure(self) -> str | None:
        for liveness in self._liveness:
            reason = liveness()
            if reason is not None:
                return reason
        if self.failure is not None:
            return f"the readiness checks failed: {self.failure}"
        stale_s = time.monotonic() - self._ticked
        if self.running and stale_s > 2 * self._interval_s + 2 * self._timeout_s:
            return f"the readiness checks have not run for {stale_s:.0f} s"
        return None

    async def _round(self) -> None:
        """Run every check (once at a time: a caller that waited for a round in progress
        takes its results)."""
        waited_from = time.monotonic()
        async with self._round_lock:
            if self._last_round >= waited_from:
                return
            await self._run_round()

    async def _run_round(self) -> None:
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(name) for name in names))
        problems = {name: problem for name, problem in zip(names, results, strict=True) if problem}
        self._log_changes(problems)
        self._problems = problems
        self._last_round = time.monotonic()

    async def _run(self, name: str) -> str | None:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._checks[name]()
        except TimeoutError:
            return f"no answer in {self._timeout_s:.0f} s"
        except Exception as exc:  # a check that breaks: a dependency not known to answer
            logger.debug("%s check %s raised", self.role, name, exc_info=True)
            return f"the check failed: {type(exc).__name__}"

    def _log_changes(self, problems: Mapping[str, str]) -> None:
        for name, problem in problems.items():
            if name not in self._problems:
                logger.warning(
                    "%s not ready: %s unreachable: %s",
                    self.role,
                    name,
                    problem,
                    extra={"dependency": name, "self_limited": True},
                )
        for name in self._problems:
            if name not in problems:
                logger.info(
                    "%s ready again: %s reachable", self.role, name, extra={"dependency": name}
                )
