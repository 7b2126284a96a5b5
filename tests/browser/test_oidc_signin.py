"""Single sign-on in headless Chromium: the real console against a real OpenID Connect provider.

The console (``create_app`` with ``oidc=OidcConfig(...)``) is served by uvicorn on the port the
provider knows as the client's callback (``oidc_provider.console_socket()``, from the
``oidc_provider`` session fixture: panva's oidc-provider on Node.js). A person opens a dashboard
page, is sent to the console's sign-in page, presses "Sign in with single sign-on", types a login
and a password on the provider's own sign-in page, agrees on its consent page, and lands back on
the page they asked for, signed in with the role their ``groups`` claim maps to: ``baton-admins``
is admin, ``baton-operators`` is viewer here (so one provider's accounts show both), and a user
in neither group is refused.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import Browser, Page, expect

from console.app import create_app
from console.oidc.config import OidcConfig, parse_role_map
from store.database import Store, sqlite_url
from streams.records import RequestKind
from tests.browser.fixtures import SCREENSHOTS, another_person, serving
from tests.component.console.dashboard_client import FakeExecutor
from tests.component.console.seed import audit_rows, seed
from tests.console_access import TEST_ACCESS
from tests.oidc_provider.fixture import LocalProvider

PENDING = "/apps/orders/workflows/wf-003"
"""A pending workflow: its action buttons show to whoever may act."""
ROLES = "baton-admins=admin,baton-operators=viewer"


@pytest.fixture
async def console(
    tmp_path: Path, oidc_provider: LocalProvider
) -> AsyncIterator[tuple[str, FakeExecutor]]:
    """The console's base URL (the origin the provider sends browsers back to), served until the
    test ends, and the fake executor behind its actions."""
    config = OidcConfig(
        issuer=oidc_provider.issuer,
        client_id=oidc_provider.client_id,
        client_secret=oidc_provider.client_secret,
        scopes=("openid", "profile", "email", "groups"),
        role_map=parse_role_map(ROLES),
    )
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        await seed(store)
        executor = FakeExecutor(store=store)
        app = create_app(
            store, channel=executor, refresh_interval_s=0, access=TEST_ACCESS, oidc=config
        )
        async with serving(app, oidc_provider.console_socket()) as url:
            assert url == oidc_provider.console_origin
            yield url, executor


async def sign_in_at_the_provider(
    page: Page, base: str, provider: LocalProvider, login: str, *, screenshots: bool = False
) -> None:
    """Open ``PENDING`` unsigned, and sign in as ``login`` through the provider's pages."""
    await page.goto(base + PENDING)
    await expect(page).to_have_url(f"{base}/signin?next={quote(PENDING, safe='')}")
    if screenshots:
        await page.screenshot(path=SCREENSHOTS / "oidc-console-sign-in.png")
    await page.get_by_role("link", name="Sign in with single sign-on").click()
    await expect(page).to_have_url(re.compile(re.escape(f"{provider.issuer}/interaction/")))
    await page.locator('input[name="login"]').fill(login)
    await page.locator('input[name="password"]').fill("correct horse battery staple")
    if screenshots:
        await page.screenshot(path=SCREENSHOTS / "oidc-provider-sign-in.png")
    await page.get_by_role("button", name="Sign-in").click()
    await page.get_by_role("button", name="Continue").click()


async def test_sign_in_at_the_provider_and_land_back_with_the_mapped_role(
    console: tuple[str, FakeExecutor], oidc_provider: LocalProvider, page: Page, browser: Browser
) -> None:
    base, executor = console
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    await sign_in_at_the_provider(page, base, oidc_provider, "ada", screenshots=True)
    await expect(page).to_have_url(base + PENDING)
    await expect(page.get_by_test_id("whoami")).to_have_text("Ada Admin · admin")
    await page.screenshot(path=SCREENSHOTS / "oidc-signed-in.png")
    # The flow cookie was spent on the way back; the console's session holds the sign-in.
    cookies = {c["name"] for c in await page.context.cookies(base)}
    assert "baton_oidc_flow" not in cookies
    assert "baton_session" in cookies
    # An admin may act.
    await page.get_by_test_id("action-cancel").click()
    await page.get_by_test_id("confirm-button").click()
    await expect(page.get_by_test_id("flash")).to_have_attribute("data-outcome", "succeeded")
    [request] = executor.acts(RequestKind.CANCEL)
    assert request.workflow_id == "wf-003"

    async with another_person(browser) as viewer:
        await sign_in_at_the_provider(viewer, base, oidc_provider, "alice")
        await expect(viewer).to_have_url(base + PENDING)
        await expect(viewer.get_by_test_id("whoami")).to_have_text("Alice Operator · viewer")
        await expect(viewer.get_by_test_id("workflow-id")).to_have_text("wf-003")
        await expect(viewer.get_by_test_id("workflow-actions").locator("a.button")).to_have_count(0)
        response = await viewer.goto(f"{base}{PENDING}/confirm?action=resume")
        assert response is not None
        assert response.status == 403
        await expect(viewer.get_by_test_id("error-message")).to_contain_text(
            "oidc:Alice Operator has the viewer role; this needs the operator role"
        )

    # Signing out ends the single sign-on session in the console.
    await page.goto(base + "/")
    await page.get_by_test_id("sign-out").click()
    await expect(page).to_have_url(f"{base}/signin")
    await page.goto(base + PENDING)
    await expect(page).to_have_url(f"{base}/signin?next={quote(PENDING, safe='')}")


async def test_a_user_in_no_mapped_group_is_refused(
    console: tuple[str, FakeExecutor], oidc_provider: LocalProvider, page: Page
) -> None:
    base, executor = console
    await sign_in_at_the_provider(page, base, oidc_provider, "eve")
    # Back on the console's own sign-in page, which says why.
    await expect(page.get_by_test_id("signin-error")).to_contain_text(
        "single sign-on failed: eve signed in, but Baton gives no role"
    )
    await expect(page.get_by_test_id("signin-form")).to_be_visible()
    [row] = await audit_rows(executor.store, action="user.signin_failed")
    assert (row.subject, row.outcome) == ("(single sign-on)", "rejected")
    assert "baton_session" not in {c["name"] for c in await page.context.cookies(base)}
    await page.goto(base + PENDING)
    await expect(page).to_have_url(f"{base}/signin?next={quote(PENDING, safe='')}")
