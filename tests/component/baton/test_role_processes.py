"""A supervised role's process, with real child processes: one that dies is restarted after its
backoff, with one log line giving its exit code; a held one stays stopped until released; with
its data directory gone it is not restarted and supervision fails."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import pytest

from baton.role_processes import SupervisedRole
from baton.settings import Settings
from runtime.lifecycle import Service
from streams.exceptions import RoleFailed


class Spawner:
    """Starts a child that sleeps (or exits at once with ``exit_code``), keeping every one."""

    def __init__(self, exit_code: int | None = None) -> None:
        self.code = (
            "import time; time.sleep(60)" if exit_code is None else f"raise SystemExit({exit_code})"
        )
        self.children: list[asyncio.subprocess.Process] = []
        self._spawned: asyncio.Queue[asyncio.subprocess.Process] = asyncio.Queue()

    async def __call__(self) -> asyncio.subprocess.Process:
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", self.code)
        self.children.append(child)
        self._spawned.put_nowait(child)
        return child

    async def next(self, timeout_s: float = 10.0) -> asyncio.subprocess.Process:
        """The next child started (the first call: the first child)."""
        return await asyncio.wait_for(self._spawned.get(), timeout_s)


async def started(role: SupervisedRole) -> Service:
    owner = Service("test supervision")
    await owner.start()
    await role.start()
    owner.tasks.loop(role.role, role.keep_alive())
    return owner


async def test_a_dead_role_is_restarted_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spawn = Spawner()
    role = SupervisedRole("gateway", spawn, Settings(data_dir=tmp_path))
    owner = await started(role)
    try:
        first = await spawn.next()
        with caplog.at_level(logging.WARNING, logger="baton.role_processes"):
            first.send_signal(signal.SIGKILL)
            second = await spawn.next()
        assert role.restarts == 1
        assert second.returncode is None
        (line,) = [r for r in caplog.records if r.name == "baton.role_processes"]
        assert line.getMessage() == "role gateway exited (signal SIGKILL); restarting it in 0.5 s"
        assert line.exit_code == -9  # type: ignore[attr-defined]
    finally:
        await owner.stop()
        await role.stop()
    assert all(child.returncode is not None for child in spawn.children)


async def test_a_role_that_keeps_dying_is_still_retried(tmp_path: Path) -> None:
    spawn = Spawner(exit_code=3)
    role = SupervisedRole("worker", spawn, Settings(data_dir=tmp_path))
    owner = await started(role)
    try:
        for _ in range(3):  # the first, then after 0.5 s and 1 s
            await spawn.next()
        assert not owner.failed.is_set()
    finally:
        await owner.stop()
        await role.stop()


async def test_a_held_role_stays_stopped_until_released(tmp_path: Path) -> None:
    spawn = Spawner()
    role = SupervisedRole("worker", spawn, Settings(data_dir=tmp_path))
    owner = await started(role)
    try:
        first = await spawn.next()
        await role.hold(stop_timeout_s=0)
        assert first.returncode == -signal.SIGKILL
        with pytest.raises(TimeoutError):
            await spawn.next(timeout_s=1.0)  # longer than the first backoff: none started
        role.release()
        await spawn.next()
        assert role.restarts == 1
    finally:
        await owner.stop()
        await role.stop()


async def test_without_its_data_directory_a_role_is_not_restarted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    spawn = Spawner()
    role = SupervisedRole("console", spawn, Settings(data_dir=data))
    owner = await started(role)
    try:
        data.rmdir()
        spawn.children[0].send_signal(signal.SIGKILL)
        await asyncio.wait_for(owner.failed.wait(), 10)
        assert isinstance(owner.failure, RoleFailed)
        assert f"the data directory {data} is gone" in str(owner.failure)
        assert len(spawn.children) == 1
    finally:
        await owner.stop()
        await role.stop()
