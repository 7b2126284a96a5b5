"""``run_console`` serves on a real port through uvicorn and stops when its event is set."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest

from console.server import run_console
from store.database import Store, sqlite_url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _get_eventually(url: str, timeout_s: float = 10.0) -> httpx.Response:
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with httpx.AsyncClient() as client:
        while True:
            try:
                return await client.get(url)
            except httpx.ConnectError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.05)


async def test_serves_until_stopped(tmp_path: Path) -> None:
    port = _free_port()
    stop = asyncio.Event()
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        server = asyncio.create_task(run_console(store, "127.0.0.1", port, stop))
        response = await _get_eventually(f"http://127.0.0.1:{port}/healthz")
        assert response.json() == {"status": "ok"}
        stop.set()
        await asyncio.wait_for(server, timeout=10)
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/healthz")


async def test_busy_port_raises_os_error(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        async with Store(sqlite_url(tmp_path / "baton.db")) as store:
            with pytest.raises(OSError):  # noqa: PT011 - the errno differs by platform
                await run_console(store, "127.0.0.1", port, asyncio.Event())
