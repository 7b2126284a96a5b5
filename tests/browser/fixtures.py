"""Browser fixtures: the system's Chromium driven by Playwright (never Playwright's own download).

Registered as a pytest plugin for every tier (``-p tests.browser.fixtures`` in pyproject.toml),
so conformance tests can open the dashboard too. Screenshots go to ``SCREENSHOTS``
(``test-output/browser/``, git-ignored). Signing in is ``tests.browser.signing``'s.

Imports nothing of Baton's: a plugin loads before coverage starts, and what it imported would
count as never run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright
from starlette.types import ASGIApp

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "browser"
TIMEOUT_MS = 10_000


@pytest.fixture
def chromium() -> Path:
    """The system's Chromium (``BATON_CHROMIUM`` overrides); the tests fail (never skip) without
    it."""
    path = Path(os.environ.get("BATON_CHROMIUM", CHROMIUM))
    if not path.exists():
        pytest.fail(
            f"Chromium is required for the browser tests and {path} is missing: run "
            "`apt-get install chromium` (or set BATON_CHROMIUM to a Chromium binary)"
        )
    return path


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    async with another_person(browser) as opened:
        yield opened


@contextlib.asynccontextmanager
async def another_person(browser: Browser) -> AsyncIterator[Page]:
    """A page in a browser context of its own (no cookies shared with any other), closed at the
    end of the block; ``page`` is the test's first."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = await context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    dialogs: list[str] = []
    opened.on("dialog", lambda dialog: dialogs.append(dialog.message))
    try:
        yield opened
    finally:
        await context.close()
    # Executor-supplied <script> payloads are on these pages: none may ever run.
    assert dialogs == []


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn (which runs its lifespan) on a free loopback port (or on the
    listening ``sock`` given); yields its base URL."""
    sock = sock or socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        sock.close()
