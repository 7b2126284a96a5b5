"""Browser fixtures: the system's Chromium driven by Playwright (never Playwright's own download).

Registered as a pytest plugin for every tier (``-p tests.browser.fixtures`` in pyproject.toml),
so conformance tests can open the dashboard too. Screenshots go to ``SCREENSHOTS``
(``test-output/browser/``, git-ignored).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

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
