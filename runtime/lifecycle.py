"""The one lifecycle of every long-lived part of Baton: services that own their tasks.

A ``Service`` is an async context manager. ``start()`` runs the subclass's ``_start`` once: it
enters the service's resources, in order, into an exit stack and puts its background work on
``self.tasks``. ``stop()`` is idempotent (a repeated or concurrent call waits for the one stop)
and drains, in this order:

1. stop accepting work: ``stopping`` turns true, then the ``_stop_accepting`` hook runs (a
   server closes its listener and its sessions);
2. let the owned jobs finish for ``drain_timeout_s``, cancel what is left and every loop, and
   wait until none runs;
3. close the resources in reverse order of start (the exit stack).

A ``start()`` that fails stops what had started, then raises. A service runs once.

Owned work comes in two kinds (``TaskOwner``):

- a **loop** runs until the service stops. If it raises, or returns, the service has *failed*:
  ``failed`` is set and ``failure`` holds the exception, so that the role exits non-zero
  (restart is the orchestrator's job) instead of limping on without it. A stop is not a failure.
- a **job** is finite work whose failure is its own (one command, one bulk job): it reports its
  outcome itself; an exception that escapes it anyway is logged, never fatal to the service.

``ServiceGroup`` starts services (and plain async context managers) in order, stops them in
reverse and fails when one of them fails. ``first_of`` waits for the first of several awaits and
leaves none running. This module is the one place that calls the bare ``asyncio.create_task``
(a ``TaskGroup`` scoped to one request or one session is fine anywhere): every task is
registered with its owner before it runs (HOUSE_STYLE §6).

Imports nothing of Baton's but the exception tree.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Coroutine, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from types import TracebackType
from typing import Any, Self

from streams.exceptions import ConductorError, RoleFailed, ServiceNotRunning

logger = logging.getLogger(__name__)

Work = Coroutine[Any, Any, None]
"""A coroutine that a service runs in the background."""


class TaskOwner:
    """The background tasks of one service: TaskGroup-like (each task is registered before it
    runs and none outlives ``close()``), except that a dead loop is reported to the owner instead
    of cancelling its siblings, and that any task may close it.

    Args:
        name: the owner's name, in task names and log lines.
        on_loop_died: called with a loop's name and exception when a loop raises or returns.
    """

    def __init__(self, name: str, on_loop_died: Callable[[str, BaseException], None]) -> None:
        self._name = name
        self._on_loop_died = on_loop_died
        self._loops: set[asyncio.Task[None]] = set()
        self._jobs: set[asyncio.Task[None]] = set()
        self._open = False
        self._closed = False

    @property
    def running(self) -> frozenset[str]:
        """The names of the tasks that have not finished."""
        return frozenset(task.get_name() for task in self._loops | self._jobs if not task.done())

    def open(self) -> None:
        """Take tasks from now on (until ``close``)."""
        if self._closed:
            raise ServiceNotRunning(f"{self._name} has stopped")
        self._open = True

    def loop(self, name: str, work: Work) -> asyncio.Task[None]:
        """Run ``work`` until the owner closes; its end, by exception or return, is a failure.

        Raises:
            ServiceNotRunning: the owner is not open (not started, or closing).
        """
        self._check_open(name, work)
        return self._spawn(self._loops, name, work, self._guard_loop(name, work))

    def job(self, name: str, work: Work) -> asyncio.Task[None]:
        """Run finite ``work``; an exception it lets escape is logged, not fatal.

        Raises:
            ServiceNotRunning: the owner is not open (not started, or closing).
        """
        self._check_open(name, work)
        return self._spawn(self._jobs, name, work, self._guard_job(name, work))

    async def close(self, grace_s: float = 0.0) -> None:
        """Take no more tasks; cancel the loops; give the jobs ``grace_s`` to finish and cancel
        the rest; return once none runs. Idempotent.

        The calling task, if it is one of ours, is neither cancelled nor waited for.
        """
        self._closed = True
        me = asyncio.current_task()
        for task in self._loops - {me}:
            task.cancel()
        jobs = self._jobs - {me}
        if grace_s > 0 and jobs:
            await asyncio.wait(jobs, timeout=grace_s)
        for task in self._jobs - {me}:
            task.cancel()
        while pending := {t for t in self._loops | self._jobs if not t.done() and t is not me}:
            await asyncio.wait(pending)

    def _check_open(self, name: str, work: Work) -> None:
        if self._open and not self._closed:
            return
        work.close()  # never run: close it, so that it is not reported as never awaited
        state = "is stopping" if self._closed else "has not started"
        raise ServiceNotRunning(f"{self._name} {state}: cannot run {name}")

    def _spawn(
        self, tasks: set[asyncio.Task[None]], name: str, work: Work, guarded: Work
    ) -> asyncio.Task[None]:
        task = asyncio.create_task(guarded, name=f"{self._name}: {name}")
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        # A task cancelled before its first step never awaited ``work``: close it quietly.
        task.add_done_callback(lambda _: work.close())
        return task

    async def _guard_loop(self, name: str, work: Work) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the owner, which logs it
            self._on_loop_died(name, exc)
        else:
            self._on_loop_died(name, RoleFailed(f"{self._name}: {name} ended on its own"))

    async def _guard_job(self, name: str, work: Work) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            # A job reports its own outcome; this is a bug in one job, not a dead service.
            logger.exception("%s: %s failed", self._name, name, extra={"service": self._name})


class _State(enum.Enum):
    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Service:
    """A long-lived part of Baton, as an async context manager (see the module docstring).

    Subclasses override ``_start`` (resources into the stack, work onto ``self.tasks``) and,
    when they accept work from outside, ``_stop_accepting``. A ``Service`` with neither is a
    plain owner of tasks.

    Args:
        name: what the logs and ``RoleFailed`` call it.
        drain_timeout_s: how long a stop lets the jobs finish before cancelling them.
    """

    def __init__(self, name: str, *, drain_timeout_s: float = 0.0) -> None:
        self.name = name
        self.drain_timeout_s = drain_timeout_s
        self.tasks = TaskOwner(name, self._loop_died)
        self.failed = asyncio.Event()
        """Set when the service failed: a loop died, or ``start()`` raised."""
        self.failure: BaseException | None = None
        """Why the service failed (the first failure), or None."""
        self._state = _State.NEW
        self._stack = AsyncExitStack()
        self._stopped = asyncio.Event()
        self._failure_listeners: list[Callable[[Service], None]] = []

    @property
    def running(self) -> bool:
        """Started and not stopping."""
        return self._state is _State.RUNNING

    @property
    def stopping(self) -> bool:
        """``stop()`` has begun (new work is refused)."""
        return self._state in (_State.STOPPING, _State.STOPPED)

    async def start(self) -> None:
        """Start the service; a second call does nothing.

        Raises:
            ServiceNotRunning: the service was stopped (a service runs once).
            Exception: whatever ``_start`` raised, after stopping what had started.
        """
        if self._state is not _State.NEW:
            if self.stopping:
                raise ServiceNotRunning(f"{self.name} was stopped; a service runs once")
            return
        self._state = _State.STARTING
        self.tasks.open()
        try:
            await self._start(self._stack)
        except Exception as exc:
            self._fail(exc)
            await self.stop()
            raise
        except BaseException:
            await self.stop()
            raise
        if self._state is _State.STARTING:
            self._state = _State.RUNNING
        else:  # stopped while starting: close what was entered after the stop closed the stack
            await self._stack.aclose()

    async def stop(self) -> None:
        """Stop accepting work, drain the tasks, close the resources in reverse order of start.
        Idempotent: a repeated or concurrent call returns once the one stop has finished."""
        if self.stopping:
            await self._stopped.wait()
            return
        self._state = _State.STOPPING
        async with AsyncExitStack() as steps:  # run last pushed first, each even if one fails
            steps.callback(self._mark_stopped)
            steps.push_async_callback(self._stack.aclose)
            steps.push_async_callback(self.tasks.close, self.drain_timeout_s)
            steps.push_async_callback(self._stop_accepting)

    def _mark_stopped(self) -> None:
        self._state = _State.STOPPED
        self._stopped.set()

    def ensure_running(self) -> None:
        """Raises ``ServiceNotRunning`` unless the service is running (check before accepting
        work that would need it)."""
        if not self.running:
            state = "is stopping" if self.stopping else "has not started"
            raise ServiceNotRunning(f"{self.name} {state}")

    def raise_if_failed(self) -> None:
        """Raises ``RoleFailed`` (chained to the failure) if the service failed."""
        if self.failure is not None:
            raise RoleFailed(f"{self.name} failed: {self.failure!r}") from self.failure

    def on_failure(self, listener: Callable[[Service], None]) -> None:
        """Call ``listener(self)`` when the service fails (at once if it already has)."""
        self._failure_listeners.append(listener)
        if self.failure is not None:
            listener(self)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _start(self, stack: AsyncExitStack) -> None:
        """Enter the resources into ``stack`` in order and start the work on ``self.tasks``."""

    async def _stop_accepting(self) -> None:
        """Refuse new work from outside (first step of ``stop``; ``stopping`` is already
        true)."""

    def _loop_died(self, name: str, exc: BaseException) -> None:
        if self.stopping:
            logger.debug("%s: %s ended while stopping: %r", self.name, name, exc)
            return
        # A ConductorError was raised on purpose and says what happened: no traceback.
        logger.error(
            "%s: %s died; the service has failed: %s",
            self.name,
            name,
            exc,
            exc_info=None if isinstance(exc, ConductorError) else exc,
            extra={"service": self.name},
        )
        self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        if self.failure is not None or self.stopping:
            return
        self.failure = exc
        self.failed.set()
        for listener in self._failure_listeners:
            listener(self)


class ServiceGroup(Service):
    """Members started in order and stopped in reverse; the group fails when a member does.

    Args:
        name: the group's name.
        members: services, or any async context managers (entered as resources).
    """

    def __init__(self, name: str, members: Iterable[AbstractAsyncContextManager[object]]) -> None:
        super().__init__(name)
        self._members = tuple(members)

    async def _start(self, stack: AsyncExitStack) -> None:
        for member in self._members:
            await stack.enter_async_context(member)
            if isinstance(member, Service):
                member.on_failure(self._member_failed)

    def _member_failed(self, member: Service) -> None:
        # The member logged its failure; the group only carries it.
        if member.failure is not None:
            self._fail(member.failure)


async def first_of(*waits: Coroutine[Any, Any, object], timeout_s: float | None = None) -> None:
    """Wait until the first of ``waits`` finishes (or ``timeout_s`` passes), then cancel the
    others and wait for them: none outlives the call.

    Raises:
        Exception: what the first of ``waits`` to finish raised, if it raised.
    """
    if not waits:
        raise ValueError("first_of needs something to wait for")
    tasks = [asyncio.create_task(wait) for wait in waits]
    try:
        done, _ = await asyncio.wait(tasks, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
    for task in done:
        if not task.cancelled() and (exc := task.exception()) is not None:
            raise exc


async def run_until(stop: asyncio.Event, service: Service) -> None:
    """Wait until ``stop`` is set or ``service`` fails (the body of a role).

    Raises:
        RoleFailed: the service failed (chained to its failure).
    """
    await first_of(stop.wait(), service.failed.wait())
    service.raise_if_failed()
