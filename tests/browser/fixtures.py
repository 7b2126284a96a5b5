"""Browser fixtures: the system's Chromium driven by Playwright (never Playwright's own download).

Registered as a pytest plugin for every tier (``-p tests.browser.fixtures`` in pyproject.toml),
so conformance tests can open the dashboard too. Screenshots go to ``SCREENSHOTS``
(``test-output/browser/``, git-ignored). ``sign_in`` makes a console user in the test's store and
signs the page in through the console's own sign-in page, as a person would.
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
from playwright.async_api import Browser, Page, async_playwright, expect
from starlette.types import ASGIApp

from store.database import Store
from store.roles import Role
from store.users import create_user

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "browser"
TIMEOUT_MS = 10_000
PASSWORD = "a browser test's password"
"""The password of every user ``add_user`` makes."""


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


async def add_user(store: Store, name: str, role: Role) -> None:
    """Make the console user ``name`` with ``role`` and the password ``PASSWORD``."""
    async with store.sessionmaker.begin() as session:
        await create_user(session, name, role, password=PASSWORD, actor="tests")


async def type_credentials(page: Page, name: str, password: str) -> None:
    """On the sign-in page: type a name and a password and press Sign in."""
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_test_id("signin-submit").click()


async def sign_in(page: Page, base: str, store: Store, role: Role, name: str = "") -> str:
    """Make a user with ``role`` (named after it unless ``name`` is given) in ``store``, and sign
    ``page`` in as it through the sign-in page of the console at ``base``; returns the name."""
    name = name or role.value
    await add_user(store, name, role)
    await page.goto(f"{base}/signin")
    await type_credentials(page, name, PASSWORD)
    await expect(page.get_by_test_id("whoami")).to_contain_text(f"{name} · {role.value}")
    return name
