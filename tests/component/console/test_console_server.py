"""``run_console`` serves on a real port through uvicorn and stops when its event is set; the
app's lifespan owns the background work, which stops the console when it dies."""

from __future__ import annotations

import asyncio
import socket
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from console.app import create_app
from console.server import run_console
from runtime.lifecycle import Service
from store.database import Store, sqlite_url
from store.tokens import create_token
from streams.exceptions import RoleFailed
from tests.component.console.channel import FakeChannel
from tests.console_access import TEST_ACCESS, bearer
from tests.eventually import eventually


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
        server = asyncio.create_task(
            run_console(store, "127.0.0.1", port, access=TEST_ACCESS, stop=stop)
        )
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
                await run_console(
                    store, "127.0.0.1", port, access=TEST_ACCESS, stop=asyncio.Event()
                )


class Dies(Service):
    """A background service whose loop dies after ``after_s`` (or whose start fails)."""

    def __init__(self, *, after_s: float = 0.0, fail_start: bool = False) -> None:
        super().__init__("doomed")
        self._after_s = after_s
        self._fail_start = fail_start
        self.started = False

    async def _start(self, stack: AsyncExitStack) -> None:
        if self._fail_start:
            raise OSError("the broker is unreachable")
        self.started = True
        self.tasks.loop("reader", self._read())

    async def _read(self) -> None:
        await asyncio.sleep(self._after_s)
        raise ConnectionError("the reply reader lost its consumer")


async def test_the_lifespan_runs_the_background_work(tmp_path: Path) -> None:
    """Under uvicorn, the app's lifespan starts the audit outbox: a row that an admin command
    left unpublished reaches the channel without any action, and the work stops with the
    server."""
    port = _free_port()
    stop = asyncio.Event()
    channel = FakeChannel()
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        async with store.sessionmaker.begin() as session:
            await create_token(session, "ops")
        server = asyncio.create_task(
            run_console(store, "127.0.0.1", port, access=TEST_ACCESS, stop=stop, channel=channel)
        )
        await eventually(lambda: channel.audit, "the outbox published the pending row")
        assert [(r.action, r.target) for r in channel.audit] == [("token.created", "ops")]
        stop.set()
        await asyncio.wait_for(server, timeout=10)
    assert [t for t in asyncio.all_tasks() if "audit outbox" in t.get_name()] == []


async def test_dead_background_work_stops_the_console(tmp_path: Path) -> None:
    port = _free_port()
    doomed = Dies(after_s=0.3)
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        with pytest.raises(RoleFailed, match="console failed: ConnectionError") as failed:
            await asyncio.wait_for(
                run_console(
                    store,
                    "127.0.0.1",
                    port,
                    access=TEST_ACCESS,
                    stop=asyncio.Event(),
                    services=(doomed,),
                ),
                10,
            )
    assert isinstance(failed.value.__cause__, ConnectionError)
    assert doomed.started
    assert not doomed.running
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/healthz")


async def test_background_work_that_cannot_start_fails_the_console(tmp_path: Path) -> None:
    port = _free_port()
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        with pytest.raises(OSError, match="the broker is unreachable"):
            await asyncio.wait_for(
                run_console(
                    store,
                    "127.0.0.1",
                    port,
                    stop=asyncio.Event(),
                    access=TEST_ACCESS,
                    services=(Dies(fail_start=True),),
                ),
                10,
            )


async def test_without_its_lifespan_the_app_refuses_bulk_jobs(seeded_store: Store) -> None:
    """Nothing runs in the background unless the lifespan runs: a bulk job is refused."""
    app = create_app(seeded_store, channel=FakeChannel(), access=TEST_ACCESS)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://console", headers=await bearer(seeded_store)
    ) as client:
        response = await client.post(
            "/api/v1/apps/orders/bulk", json={"action": "cancel", "workflow_ids": ["wf-001"]}
        )
    assert response.status_code == 500
    assert app.state.bulk is not None
    async with LifespanManager(app) as running:
        transport = httpx.ASGITransport(app=running.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://console", headers=await bearer(seeded_store)
        ) as client:
            response = await client.post(
                "/api/v1/apps/orders/bulk", json={"action": "cancel", "workflow_ids": ["wf-001"]}
            )
            assert response.status_code == 202, response.text
    assert app.state.background.stopping
