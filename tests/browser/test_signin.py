"""Signing in to the console in headless Chromium, as a person does.

The console runs for real (uvicorn on a free loopback port) over a seeded SQLite store, with a
fake executor behind its ``CommandChannel``; users are made in the test's store
(``store.users``). Covered: an unsigned page sends the browser to the sign-in page and back after;
the header names who is signed in; sign-out; a wrong password; one-time sign-in links; what a
viewer and an operator may do; a session past its lifetime; and forms posted without their CSRF
token.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote, unquote

from playwright.async_api import Browser, Page, expect

from console.access.guard import AccessPolicy
from console.app import create_app
from store.database import Store, sqlite_url
from store.roles import Role
from store.users import FIRST_ADMIN, create_signin_code, create_user, first_admin_code
from streams.records import RequestKind
from tests.browser.fixtures import SCREENSHOTS, another_person, serving
from tests.browser.signing import PASSWORD, add_user, sign_in, type_credentials
from tests.component.console.dashboard_client import FakeExecutor
from tests.component.console.seed import audit_rows, seed
from tests.console_access import TEST_ACCESS

WORKFLOWS = "/apps/orders/workflows?status=ERROR"
PENDING = "/apps/orders/workflows/wf-003"
"""A pending workflow: every action button shows for an operator."""
CANCEL = f"{PENDING}/confirm?action=cancel"
FORGED = "this form expired or did not come from the console"
SESSION = "baton_session"


@dataclass(frozen=True, slots=True)
class Console:
    base: str
    store: Store
    executor: FakeExecutor

    def url(self, path: str) -> str:
        return self.base + path

    def sign_in_url(self, path: str) -> str:
        """Where the console sends a browser that asks for ``path`` unsigned."""
        return f"{self.base}/signin?next={quote(path, safe='')}"


@asynccontextmanager
async def console(tmp_path: Path, access: AccessPolicy = TEST_ACCESS) -> AsyncIterator[Console]:
    """The console served by uvicorn over a seeded store, until the block ends."""
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        await seed(store)
        executor = FakeExecutor(store=store)
        app = create_app(store, channel=executor, refresh_interval_s=0, access=access)
        async with serving(app) as url:
            yield Console(url, store, executor)


async def test_an_unsigned_page_signs_in_and_comes_back(tmp_path: Path, page: Page) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with console(tmp_path) as c:
        await add_user(c.store, "olga", Role.OPERATOR)
        await page.goto(c.url(WORKFLOWS))
        await expect(page).to_have_url(c.sign_in_url(WORKFLOWS))
        await expect(page.get_by_role("heading", name="Sign in to Baton")).to_be_visible()
        await expect(page.get_by_test_id("whoami")).to_have_count(0)
        await page.screenshot(path=str(SCREENSHOTS / "signin.png"), full_page=True)

        await type_credentials(page, "olga", PASSWORD)
        await expect(page).to_have_url(c.url(WORKFLOWS))
        await expect(page.get_by_test_id("whoami")).to_have_text("olga · operator")
        await expect(page.get_by_test_id("workflow-row")).to_have_count(1)
        cookies = {c["name"]: c for c in await page.context.cookies(c.base)}
        assert cookies[SESSION]["httpOnly"] is True
        await page.screenshot(path=str(SCREENSHOTS / "signed-in.png"), full_page=True)

        await page.get_by_test_id("sign-out").click()
        await expect(page).to_have_url(c.url("/signin"))
        await expect(page.get_by_test_id("whoami")).to_have_count(0)
        await page.goto(c.url(WORKFLOWS))
        await expect(page).to_have_url(c.sign_in_url(WORKFLOWS))


async def test_a_wrong_password_shows_why_and_signs_nobody_in(tmp_path: Path, page: Page) -> None:
    async with console(tmp_path) as c:
        await add_user(c.store, "olga", Role.ADMIN)
        await page.goto(c.url(WORKFLOWS))
        await type_credentials(page, "olga", "not the password")
        error = page.get_by_test_id("signin-error")
        await expect(error).to_have_text("wrong name or password")
        await expect(page.get_by_test_id("whoami")).to_have_count(0)
        await expect(page.get_by_test_id("signin-name")).to_have_value("olga")
        await expect(page.get_by_test_id("signin-password")).to_have_value("")
        await page.screenshot(path=str(SCREENSHOTS / "signin-wrong.png"), full_page=True)
        assert SESSION not in {c["name"] for c in await page.context.cookies(c.base)}
        [row] = await audit_rows(c.store, action="user.signin_failed")
        assert (row.subject, row.outcome) == ("olga", "rejected")

        # The form still takes the right password, and still returns to the page asked for.
        await page.get_by_test_id("signin-password").fill(PASSWORD)
        await page.get_by_test_id("signin-submit").click()
        await expect(page).to_have_url(c.url(WORKFLOWS))
        await expect(page.get_by_test_id("whoami")).to_have_text("olga · admin")


async def test_what_the_sign_in_page_echoes_stays_inert(tmp_path: Path, page: Page) -> None:
    """``next`` and the typed name come back on the page (the form keeps them): as text, and
    ``next`` never leads off the console."""
    hostile = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
    async with console(tmp_path) as c:
        await add_user(c.store, "olga", Role.VIEWER)
        await page.goto(c.url(f"/signin?next={quote('/' + hostile, safe='')}"))
        await type_credentials(page, hostile[:60], PASSWORD)
        await expect(page.get_by_test_id("signin-name")).to_have_value(hostile[:60])
        assert await page.locator("img, script:not([src])").count() == 0
        await page.get_by_test_id("signin-name").fill("olga")
        await page.get_by_test_id("signin-password").fill(PASSWORD)
        await page.get_by_test_id("signin-submit").click()
        # Back to the path asked for (no such page: a 404, as inert), signed in.
        await expect(page.get_by_role("heading", name="Error 404")).to_be_visible()
        assert unquote(page.url) == c.url("/" + hostile)
        assert await page.locator("img, script:not([src])").count() == 0
        await page.goto(c.url("/"))
        await expect(page.get_by_test_id("whoami")).to_have_text("olga · viewer")

        await page.get_by_test_id("sign-out").click()
        for elsewhere in ("//elsewhere.example/", "https://elsewhere.example/", "/\\elsewhere"):
            await page.goto(c.url(f"/signin?next={quote(elsewhere, safe='')}"))
            await type_credentials(page, "olga", PASSWORD)
            await expect(page).to_have_url(c.url("/"))
            await page.get_by_test_id("sign-out").click()


async def test_a_sign_in_link_works_once(tmp_path: Path, page: Page, browser: Browser) -> None:
    async with console(tmp_path) as c:
        async with c.store.sessionmaker.begin() as session:
            first = await first_admin_code(session)
            await create_user(session, "lin", Role.VIEWER, with_password=False)
            lin = await create_signin_code(session, "lin")
        assert first is not None
        first_link = c.url(f"/signin?code={first}&next={quote('/apps/orders', safe='')}")
        await page.goto(first_link)
        await expect(page).to_have_url(c.url("/apps/orders"))
        await expect(page.get_by_test_id("whoami")).to_have_text(f"{FIRST_ADMIN} · admin")

        async with another_person(browser) as other:
            await other.goto(c.url(f"/signin?code={lin}"))
            await expect(other).to_have_url(c.url("/"))
            await expect(other.get_by_test_id("whoami")).to_have_text("lin · viewer")
            await other.get_by_test_id("sign-out").click()
            await expect(other).to_have_url(c.url("/signin"))

            # Used up: the second time, by anyone, the link signs nobody in.
            for link, who in ((first_link, other), (c.url(f"/signin?code={lin}"), other)):
                response = await who.goto(link)
                assert response is not None
                assert response.status == 401
                await expect(who.get_by_test_id("signin-error")).to_contain_text(
                    "this sign-in link is used up or expired"
                )
                await expect(who.get_by_test_id("whoami")).to_have_count(0)
            await other.goto(c.url("/apps/orders"))
            await expect(other).to_have_url(c.sign_in_url("/apps/orders"))


async def test_a_viewer_reads_and_an_operator_acts(
    tmp_path: Path, page: Page, browser: Browser
) -> None:
    async with console(tmp_path) as c:
        await sign_in(page, c.base, c.store, Role.VIEWER, "vera")
        await page.goto(c.url(PENDING))
        await expect(page.get_by_test_id("workflow-id")).to_have_text("wf-003")
        await expect(page.get_by_test_id("workflow-actions").locator("a.button")).to_have_count(0)
        await page.goto(c.url("/apps/orders/workflows"))
        await expect(page.get_by_test_id("workflow-row").first).to_be_visible()
        await expect(page.get_by_test_id("bulk-bar")).to_have_count(0)
        await page.screenshot(path=str(SCREENSHOTS / "viewer-workflows.png"), full_page=True)
        signout_token = page.locator('[data-testid="signout-form"] input[name="csrftoken"]')
        token = await signout_token.input_value()

        needs_operator = "user:vera has the viewer role; this needs the operator role"
        response = await page.goto(c.url(CANCEL))
        assert response is not None
        assert response.status == 403
        await expect(page.get_by_test_id("error-message")).to_contain_text(needs_operator)
        await page.screenshot(path=str(SCREENSHOTS / "viewer-refused.png"), full_page=True)
        # A post with the viewer's own cookies and a valid CSRF token: the role still refuses.
        posted = await page.request.post(
            c.url(f"{PENDING}/actions/cancel"),
            form={"csrftoken": token, "idempotency_key": "k" * 32},
            headers={"Origin": c.base, "Accept": "text/html"},
        )
        assert posted.status == 403
        assert needs_operator in await posted.text()
        assert c.executor.acts(RequestKind.CANCEL) == []
        denied = await audit_rows(c.store, action="access.denied")
        assert [(r.actor, r.subject) for r in reversed(denied)] == [
            ("user:vera", "/apps/orders/workflows/wf-003/confirm"),
            ("user:vera", "/apps/orders/workflows/wf-003/actions/cancel"),
        ]

        async with another_person(browser) as operator:
            await sign_in(operator, c.base, c.store, Role.OPERATOR, "otto")
            await operator.goto(c.url(PENDING))
            await operator.get_by_test_id("action-cancel").click()
            await operator.get_by_test_id("confirm-button").click()
            flash = operator.get_by_test_id("flash")
            await expect(flash).to_have_attribute("data-outcome", "succeeded")
            await expect(operator.get_by_test_id("status").first).to_have_text("CANCELLED")
        [request] = c.executor.acts(RequestKind.CANCEL)
        assert request.workflow_id == "wf-003"


async def test_a_session_past_its_lifetime_signs_in_again(tmp_path: Path, page: Page) -> None:
    lifetime_s = 2.0
    async with console(tmp_path, replace(TEST_ACCESS, session_lifetime_s=lifetime_s)) as c:
        await sign_in(page, c.base, c.store, Role.VIEWER)
        await page.goto(c.url(WORKFLOWS))
        await expect(page.get_by_test_id("workflow-row")).to_have_count(1)
        [session] = [k for k in await page.context.cookies(c.base) if k["name"] == SESSION]
        await asyncio.sleep(lifetime_s + 0.5)
        # The console refuses the cookie itself, not only the browser that dropped it.
        replayed = await page.request.get(
            c.url("/api/v1/apps"), headers={"Cookie": f"{SESSION}={session['value']}"}
        )
        assert replayed.status == 401
        await page.reload()
        await expect(page).to_have_url(c.sign_in_url(WORKFLOWS))
        await expect(page.get_by_test_id("whoami")).to_have_count(0)
        # Signing in again brings the browser back where it was.
        await type_credentials(page, "viewer", PASSWORD)
        await expect(page).to_have_url(c.url(WORKFLOWS))


async def test_a_form_without_its_csrf_token_changes_nothing(
    tmp_path: Path, page: Page, browser: Browser
) -> None:
    async with console(tmp_path) as c:
        await sign_in(page, c.base, c.store, Role.OPERATOR)
        field = page.locator('[data-testid="confirm-form"] input[name="csrftoken"]')
        for tamper in ("field => { field.value = 'forged' }", "field => field.remove()"):
            await page.goto(c.url(CANCEL))
            await field.evaluate(tamper)
            await page.get_by_test_id("confirm-button").click()
            await expect(page.get_by_test_id("error-message")).to_have_text(re.compile(FORGED))
            await expect(page.get_by_role("heading", name="Error 403")).to_be_visible()
        await page.screenshot(path=str(SCREENSHOTS / "csrf-refused.png"), full_page=True)
        assert c.executor.acts(RequestKind.CANCEL) == []
        await page.goto(c.url(PENDING))
        await expect(page.get_by_test_id("status").first).to_have_text("PENDING")
        # Signing out is a form too: without its token the session stays.
        await page.locator('[data-testid="signout-form"] input[name="csrftoken"]').evaluate(
            "field => field.remove()"
        )
        await page.get_by_test_id("sign-out").click()
        await expect(page.get_by_test_id("error-message")).to_have_text(re.compile(FORGED))
        await page.goto(c.url(PENDING))
        await expect(page.get_by_test_id("whoami")).to_have_text("operator · operator")

        # The sign-in form is checked even before any cookie: a forged one signs nobody in.
        async with another_person(browser) as stranger:
            await stranger.goto(c.url("/signin"))
            await stranger.locator('[data-testid="signin-form"] input[name="csrftoken"]').evaluate(
                "field => field.remove()"
            )
            await type_credentials(stranger, "operator", PASSWORD)
            await expect(stranger.get_by_test_id("error-message")).to_have_text(re.compile(FORGED))
            await stranger.goto(c.url(PENDING))
            await expect(stranger).to_have_url(c.sign_in_url(PENDING))
