"""The role processes of ``baton up``: one child per role, kept running.

A role that exits on its own is restarted with exponential backoff (``runtime.backoff``: 0.5 s
doubling to 30 s, back to 0.5 s once it stayed up 60 s), with one log line per restart giving
its exit code; a role that keeps dying is still retried, every 30 s, and the line says so. The
one death that is not retried is Baton's own: the data directory gone (deleted or unmounted)
fails the service, and ``baton up`` exits non-zero.

The supervisor may also hold a role (stop it and keep it stopped, e.g. the worker while the
embedded broker is restarted) and release it; that is not a death.

Children get ``die_with_parent``: a ``baton up`` killed with SIGKILL leaks none of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from baton.children import die_with_parent
from baton.settings import Settings, environment
from runtime.backoff import RestartBackoff
from runtime.lifecycle import Service
from streams.exceptions import RoleFailed

logger = logging.getLogger(__name__)

ROLES = ("worker", "gateway", "console")
"""Started in this order, stopped in reverse (the console, then the gateway, so executors see a
drain, not a death, and the worker last)."""
STOP_TIMEOUT_S = 15.0
SELF_LIMITED = {"self_limited": True}
"""``extra`` of lines already rate-limited by their source (``baton.logs.RepeatFilter``)."""


class SupervisedRole:
    """One role's child process, restarted when it dies.

    Args:
        role: ``worker``, ``gateway`` or ``console``.
        spawn: starts a new process of the role.
        settings: where the data directory is (it must still exist to restart).
    """

    def __init__(
        self,
        role: str,
        spawn: Callable[[], Awaitable[asyncio.subprocess.Process]],
        settings: Settings,
    ) -> None:
        self.role = role
        self._spawn = spawn
        self._settings = settings
        self._backoff = RestartBackoff()
        self._child: asyncio.subprocess.Process | None = None
        self._started_at = 0.0
        self._wanted = asyncio.Event()
        self._wanted.set()
        self._lock = asyncio.Lock()
        self.restarts = 0
        """Restarts after a death (holds not counted)."""

    @property
    def pid(self) -> int | None:
        """The current process's id (None before the first start)."""
        return None if self._child is None else self._child.pid

    async def start(self) -> None:
        async with self._lock:
            await self._start_child()

    async def keep_alive(self) -> None:
        """Wait for the process to exit and start another, forever.

        Raises:
            RoleFailed: the data directory is gone (unrecoverable).
        """
        while True:
            assert self._child is not None
            code = await self._child.wait()
            if self._wanted.is_set():  # died on its own, not held
                pause_s = self._backoff.after_death(time.monotonic() - self._started_at)
                self._log_death(code, pause_s)
                await asyncio.sleep(pause_s)
            await self._wanted.wait()
            if not self._settings.data_dir.is_dir():
                raise RoleFailed(
                    f"the data directory {self._settings.data_dir} is gone: cannot restart "
                    f"the {self.role}; stopping Baton"
                )
            async with self._lock:
                if self._wanted.is_set() and self._child.returncode is not None:
                    self.restarts += 1
                    await self._start_child()

    async def hold(self, stop_timeout_s: float) -> None:
        """Stop the process (SIGTERM, SIGKILL after ``stop_timeout_s``; 0: SIGKILL at once) and
        keep it stopped until :meth:`release`."""
        async with self._lock:
            self._wanted.clear()
            child = self._child
        if child is not None:
            await stop_child(child, stop_timeout_s)

    def release(self) -> None:
        """Let a held role run again (started at once)."""
        self._wanted.set()

    async def stop(self) -> None:
        self._wanted.clear()
        if self._child is not None:
            await stop_child(self._child, STOP_TIMEOUT_S)

    async def _start_child(self) -> None:
        self._child = await self._spawn()
        self._started_at = time.monotonic()

    def _log_death(self, code: int, pause_s: float) -> None:
        how = exit_description(code)
        if self._backoff.at_max:
            logger.error(
                "role %s exited (%s); it keeps failing (%d times in a row): still restarting "
                "it, in %.1f s",
                self.role,
                how,
                self._backoff.failures_in_a_row,
                pause_s,
                extra={"role_process": self.role, "exit_code": code, **SELF_LIMITED},
            )
            return
        logger.warning(
            "role %s exited (%s); restarting it in %.1f s",
            self.role,
            how,
            pause_s,
            extra={"role_process": self.role, "exit_code": code, **SELF_LIMITED},
        )


class RoleProcesses(Service):
    """One supervised child process per role, started in ``ROLES`` order and stopped in reverse
    (SIGTERM, then SIGKILL after ``STOP_TIMEOUT_S``). Fails only when a role cannot be restarted
    at all (the data directory is gone)."""

    def __init__(self, settings: Settings, bootstrap: str) -> None:
        super().__init__("roles")
        self._settings = settings
        self._bootstrap = bootstrap
        self.roles = {role: SupervisedRole(role, self._spawner(role), settings) for role in ROLES}

    def _spawner(self, role: str) -> Callable[[], Awaitable[asyncio.subprocess.Process]]:
        async def spawn() -> asyncio.subprocess.Process:
            return await spawn_role(role, self._settings, self._bootstrap)

        return spawn

    async def _start(self, stack: AsyncExitStack) -> None:
        for supervised in self.roles.values():
            await supervised.start()
            stack.push_async_callback(supervised.stop)
            self.tasks.loop(supervised.role, supervised.keep_alive())


async def spawn_role(role: str, settings: Settings, bootstrap: str) -> asyncio.subprocess.Process:
    """Start ``baton ROLE`` on ``bootstrap`` with the supervisor's settings."""
    args = [
        sys.executable,
        "-m",
        "baton",
        role,
        "--kafka",
        bootstrap,
        "--data-dir",
        str(settings.data_dir),
        "--log-level",
        settings.log_level,
    ]
    if role == "gateway":
        args += ["--host", settings.gateway_host, "--port", str(settings.gateway_port)]
    if role == "console":
        args += ["--host", settings.console_host, "--port", str(settings.console_port)]
    if role == "worker":
        args += ["--host", settings.worker_host, "--port", str(settings.worker_port)]
    tls = settings.tls
    if tls is not None and role in ("gateway", "console"):
        args += ["--tls-cert", str(tls.cert.resolve()), "--tls-key", str(tls.key.resolve())]
    # The store URL may carry a password: every user of the machine can read a command line
    # (ps), only this one its environment.
    env = {**environment(), "BATON_DATABASE_URL": settings.store_url()}
    if role == "gateway":
        env["BATON_GATEWAY_SHED_S"] = "0"  # one gateway: no other pod to shed its sessions to
    return await asyncio.create_subprocess_exec(*args, env=env, preexec_fn=die_with_parent)


def exit_description(code: int) -> str:
    """``code 1``, or ``signal SIGKILL`` for a process a signal ended."""
    if code >= 0:
        return f"code {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"


async def stop_child(child: asyncio.subprocess.Process, timeout_s: float) -> None:
    """SIGTERM, then SIGKILL if it is still running after ``timeout_s`` (0: SIGKILL at once)."""
    if child.returncode is not None:
        return
    if timeout_s <= 0:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
        return
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(child.wait(), timeout_s)
    except TimeoutError:
        logger.warning("child %d did not stop in %.0f s; killing it", child.pid, timeout_s)
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
