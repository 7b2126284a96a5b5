"""Single sign-on in headless Chromium against a real OpenID Connect provider.

A person opens the app, presses "Sign in with single sign-on", types a login and a password on
the provider's own sign-in page (oidc-provider's, from the ``oidc_provider`` session fixture),
agrees on its consent page, and lands back on the page they asked for, signed in with the role
their ``groups`` claim maps to. The app is a small Starlette app around the console's two routes,
served by uvicorn on the port the provider knows as the client's callback; its ``on_signed_in``
stands in for the login system (a cookie naming the identity).
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from console.oidc.config import OidcConfig, parse_role_map
from console.oidc.flow import OidcIdentity
from console.oidc.routes import oidc_routes
from tests.browser.fixtures import SCREENSHOTS, serving
from tests.oidc_provider.fixture import LocalProvider

SESSION_COOKIE = "test_session"


class SignedInApp:
    """A home page with the sign-in button, and ``/me``, which shows who is signed in."""

    def __init__(self, provider: LocalProvider) -> None:
        self.sessions: dict[str, OidcIdentity] = {}
        config = OidcConfig(
            issuer=provider.issuer,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            scopes=("openid", "profile", "email", "groups"),
            role_map=parse_role_map("baton-admins=admin,baton-operators=operator"),
        )
        self.app = Starlette(
            routes=[
                Route("/", self.home),
                Route("/me", self.me),
                *oidc_routes(config, self.on_signed_in),
            ]
        )

    async def home(self, request: Request) -> Response:
        return HTMLResponse(
            '<h1>Baton</h1><a href="/auth/oidc/login?next=/me">Sign in with single sign-on</a>'
        )

    async def on_signed_in(self, request: Request, identity: OidcIdentity) -> Response:
        session = secrets.token_urlsafe(16)
        self.sessions[session] = identity
        response = RedirectResponse(identity.return_to, status_code=303)
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="lax")
        return response

    async def me(self, request: Request) -> Response:
        identity = self.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
        if identity is None:
            return RedirectResponse("/", status_code=303)
        return HTMLResponse(
            f'<h1>Signed in</h1><p data-testid="name">{html.escape(identity.name)}</p>'
            f'<p data-testid="role">{html.escape(identity.role)}</p>'
            f'<p data-testid="subject">{html.escape(identity.subject)}</p>'
        )


@pytest.fixture
async def app_url(oidc_provider: LocalProvider) -> AsyncIterator[tuple[str, SignedInApp]]:
    signed_in = SignedInApp(oidc_provider)
    async with serving(signed_in.app, oidc_provider.console_socket()) as url:
        assert url == oidc_provider.console_origin
        yield url, signed_in


async def test_sign_in_at_the_provider_and_land_back_with_the_mapped_role(
    app_url: tuple[str, SignedInApp], oidc_provider: LocalProvider, page: Page
) -> None:
    base, signed_in = app_url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    await page.goto(base + "/")
    await page.get_by_role("link", name="Sign in with single sign-on").click()
    await expect(page).to_have_url(re.compile(re.escape(f"{oidc_provider.issuer}/interaction/")))
    await page.locator('input[name="login"]').fill("alice")
    await page.locator('input[name="password"]').fill("correct horse battery staple")
    await page.screenshot(path=SCREENSHOTS / "oidc-provider-sign-in.png")
    await page.get_by_role("button", name="Sign-in").click()
    await page.get_by_role("button", name="Continue").click()

    await expect(page).to_have_url(f"{base}/me")
    await expect(page.get_by_test_id("name")).to_have_text("Alice Operator")
    await expect(page.get_by_test_id("role")).to_have_text("operator")
    await expect(page.get_by_test_id("subject")).to_have_text("alice")
    await page.screenshot(path=SCREENSHOTS / "oidc-signed-in.png")
    assert [(i.subject, i.role) for i in signed_in.sessions.values()] == [("alice", "operator")]
    # The flow cookie was spent on the way back.
    cookies = {c["name"] for c in await page.context.cookies(base)}
    assert "baton_oidc_flow" not in cookies
    assert SESSION_COOKIE in cookies
