"""Login and roles on the console, through its real ASGI app and a real SQLite store: who may call
what, sign-in with a password or a one-time link, sign-out, expiry, failed sign-ins limited and
audited, CSRF on forms, and a viewer's refused action (403 and an audit row, nothing done)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.routing import Mount, Route

from console.access.guard import AccessPolicy
from console.access.rules import required_role
from console.app import create_app
from store.database import Store
from store.keys import create_key
from store.roles import Role
from store.users import create_signin_code, create_user
from tests.component.console.channel import FakeChannel
from tests.component.console.seed import audit_rows
from tests.console_access import TEST_ACCESS, bearer

ORIGIN = {"Origin": "http://console"}
HTML = {"Accept": "text/html"}
PASSWORD = "correct horse battery staple"


@pytest.fixture
async def browser(seeded_store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client with no credentials, like a browser that has not signed in."""
    async with _client(seeded_store) as client:
        yield client


@asynccontextmanager
async def _client(
    store: Store, access: AccessPolicy = TEST_ACCESS
) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client of a console on ``store`` (another console of the same deployment
    when called again: the same cookie secret)."""
    app = create_app(store, channel=FakeChannel(), action_timeout_s=0.3, access=access)
    async with LifespanManager(app) as running:
        transport = httpx.ASGITransport(app=running.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            yield client


async def _user(store: Store, name: str, role: Role) -> None:
    async with store.sessionmaker.begin() as session:
        await create_user(session, name, role, password=PASSWORD)


def _csrf(html: str) -> str:
    [token] = set(re.findall(r'name="csrftoken" value="([^"]+)"', html))
    return str(token)


async def _sign_in(
    client: httpx.AsyncClient, name: str, password: str = PASSWORD
) -> httpx.Response:
    form = await client.get("/signin", headers=HTML)
    assert form.status_code == 200
    return await client.post(
        "/signin",
        data={"name": name, "password": password, "csrftoken": _csrf(form.text), "next": "/audit"},
        headers=ORIGIN,
    )


def _routes(store: Store) -> list[tuple[str, str]]:
    app = create_app(store, access=TEST_ACCESS)
    found = []
    for route in app.routes:
        if isinstance(route, Route):
            for method in sorted(route.methods or {"POST"}):
                found.append((method, route.path))
        elif isinstance(route, Mount):
            found.append(("GET", f"{route.path}/console.css"))
    return found


def _concrete(path: str) -> str:
    return re.sub(r"{(\w+)(:\w+)?}", lambda m: "orders" if m[1] == "app" else "x", path)


async def test_only_health_static_and_sign_in_are_anonymous(seeded_store: Store) -> None:
    anonymous = {
        (method, path)
        for method, path in _routes(seeded_store)
        if required_role(method, _concrete(path)) is None
    }
    assert anonymous == {
        ("GET", "/healthz"),
        ("HEAD", "/healthz"),
        ("GET", "/metrics"),
        ("HEAD", "/metrics"),
        ("GET", "/readyz"),
        ("HEAD", "/readyz"),
        ("GET", "/signin"),
        ("HEAD", "/signin"),
        ("POST", "/signin"),
        ("POST", "/signout"),
        ("GET", "/static/console.css"),
    }


async def test_every_other_route_refuses_an_anonymous_caller(
    seeded_store: Store, browser: httpx.AsyncClient
) -> None:
    for method, path in _routes(seeded_store):
        concrete = _concrete(path)
        if method == "HEAD" or required_role(method, concrete) is None:
            continue
        api = await browser.request(method, concrete)
        assert api.status_code == 401, (method, path, api.text)
        assert "Authorization: Bearer" in api.json()["error"]
        assert api.headers["www-authenticate"].startswith("Bearer")
        if method == "GET" and not path.startswith("/api/"):
            page = await browser.get(concrete, headers=HTML)
            assert page.status_code == 303, (path, page.text)
            assert page.headers["location"].startswith("/signin?next=%2F")


async def test_a_bad_token_is_a_401_naming_what_to_do(browser: httpx.AsyncClient) -> None:
    for header in ("Bearer btn_nope", "Basic abc", "Bearer "):
        response = await browser.get("/api/v1/apps", headers={"Authorization": header})
        assert response.status_code == 401
        assert "baton tokens create" in response.json()["error"]


async def test_tokens_act_with_their_role_and_a_viewers_action_is_refused_and_audited(
    seeded_store: Store, browser: httpx.AsyncClient
) -> None:
    viewer = await bearer(seeded_store, "watcher", Role.VIEWER)
    listed = await browser.get("/api/v1/apps", headers=viewer)
    assert listed.status_code == 200
    refused = await browser.post("/api/v1/apps/orders/workflows/wf-001/cancel", headers=viewer)
    assert refused.status_code == 403
    assert (
        "token:watcher has the viewer role; this needs the operator role"
        in (refused.json()["error"])
    )
    [row] = await audit_rows(seeded_store, action="access.denied")
    assert (row.actor, row.app, row.outcome) == ("token:watcher", "orders", "rejected")
    assert await audit_rows(seeded_store, action="workflow.cancel") == []

    operator = await bearer(seeded_store, "deployer", Role.OPERATOR)
    done = await browser.post("/api/v1/apps/orders/workflows/wf-001/cancel", headers=operator)
    assert done.status_code == 200, done.text
    assert done.json()["actor"] == "token:deployer"


async def test_sign_in_sign_out_and_a_session_that_outlived_sign_out(
    seeded_store: Store, browser: httpx.AsyncClient
) -> None:
    await _user(seeded_store, "alice", Role.OPERATOR)
    signed_in = await _sign_in(browser, "alice")
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/audit")
    page = await browser.get("/audit", headers=HTML)
    assert page.status_code == 200
    assert 'data-testid="whoami">alice · operator<' in page.text
    stolen = dict(browser.cookies)

    out = await browser.post("/signout", data={"csrftoken": _csrf(page.text)}, headers=ORIGIN)
    assert (out.status_code, out.headers["location"]) == (303, "/signin")
    assert (await browser.get("/api/v1/apps")).status_code == 401
    # A copy of the cookie taken before signing out is dead too.
    async with _client(seeded_store) as thief:
        thief.cookies.update(stolen)
        assert (await thief.get("/api/v1/apps")).status_code == 401


async def test_a_wrong_password_is_refused_audited_and_limited(
    seeded_store: Store, browser: httpx.AsyncClient
) -> None:
    await _user(seeded_store, "alice", Role.ADMIN)
    wrong = await _sign_in(browser, "alice", "not the password at all")
    assert wrong.status_code == 401
    assert "wrong name or password" in wrong.text
    assert (await browser.get("/api/v1/apps")).status_code == 401
    [row] = await audit_rows(seeded_store, action="user.signin_failed")
    assert (row.subject, row.outcome) == ("alice", "rejected")

    for _ in range(9):
        assert (await _sign_in(browser, "nobody", "guess guess guess")).status_code == 401
    blocked = await _sign_in(browser, "alice")
    assert blocked.status_code == 429
    assert "too many failed sign-ins" in blocked.text
    assert (await browser.get("/api/v1/apps")).status_code == 401


async def test_a_one_time_link_signs_in_once(
    seeded_store: Store, browser: httpx.AsyncClient
) -> None:
    await _user(seeded_store, "root", Role.ADMIN)
    async with seeded_store.sessionmaker.begin() as session:
        code = await create_signin_code(session, "root")
    first = await browser.get(f"/signin?code={code}&next=/apps/orders", headers=HTML)
    assert (first.status_code, first.headers["location"]) == (303, "/apps/orders")
    assert (await browser.get("/api/v1/apps")).status_code == 200
    browser.cookies.clear()
    again = await browser.get(f"/signin?code={code}", headers=HTML)
    assert again.status_code == 401
    assert "used up or expired" in again.text


async def test_a_form_without_its_csrf_token_is_refused(
    seeded_store: Store, browser: httpx.AsyncClient
) -> None:
    await _user(seeded_store, "alice", Role.OPERATOR)
    await _sign_in(browser, "alice")
    forged = await browser.post(
        "/apps/orders/workflows/wf-003/actions/cancel",
        data={"idempotency_key": "k", "csrftoken": "forged"},
        headers=ORIGIN,
    )
    assert forged.status_code == 403
    assert "reload the page" in forged.text
    assert await audit_rows(seeded_store, action="workflow.cancel") == []
    async with _client(seeded_store) as no_cookie:
        login_csrf = await no_cookie.post(
            "/signin", data={"name": "alice", "password": PASSWORD}, headers=ORIGIN
        )
    assert login_csrf.status_code == 403
    assert "baton_session" not in login_csrf.cookies  # not signed in


async def test_a_session_expires(seeded_store: Store) -> None:
    await _user(seeded_store, "alice", Role.VIEWER)
    async with _client(seeded_store, replace(TEST_ACCESS, session_lifetime_s=1.0)) as client:
        assert (await _sign_in(client, "alice")).status_code == 303
        assert (await client.get("/api/v1/apps")).status_code == 200
        await asyncio.sleep(2.2)
        assert (await client.get("/api/v1/apps")).status_code == 401


async def test_a_viewer_sees_no_action_buttons_and_cannot_open_a_confirmation(
    seeded_store: Store, browser: httpx.AsyncClient
) -> None:
    await _user(seeded_store, "vera", Role.VIEWER)
    await _sign_in(browser, "vera")
    page = await browser.get("/apps/orders/workflows/wf-003", headers=HTML)
    assert page.status_code == 200
    assert 'data-testid="action-cancel"' not in page.text
    confirm = await browser.get("/apps/orders/workflows/wf-003/confirm?action=cancel", headers=HTML)
    assert confirm.status_code == 403
    assert "user:vera has the viewer role" in confirm.text


async def test_the_admin_api_lists_users_tokens_and_keys_to_admins_only(
    seeded_store: Store, browser: httpx.AsyncClient
) -> None:
    await _user(seeded_store, "alice", Role.OPERATOR)
    async with seeded_store.sessionmaker.begin() as session:
        _, plaintext = await create_key(session, "orders", name="eu-prod")
    admin = await bearer(seeded_store)
    operator = await bearer(seeded_store, "deployer", Role.OPERATOR)

    users = await browser.get("/api/v1/admin/users", headers=admin)
    assert users.status_code == 200, users.text
    assert {"name": "alice", "role": "operator", "password_set": True}.items() <= (
        next(u for u in users.json() if u["name"] == "alice").items()
    )
    tokens = (await browser.get("/api/v1/admin/tokens", headers=admin)).json()
    assert {(t["name"], t["role"]) for t in tokens} >= {
        ("tester", "admin"),
        ("deployer", "operator"),
    }
    keys = (await browser.get("/api/v1/admin/apps/orders/keys", headers=admin)).json()
    assert [(k["app"], k["name"], k["revoked_at"]) for k in keys] == [("orders", "eu-prod", None)]
    everything = users.text + str(tokens) + str(keys)
    assert plaintext not in everything
    assert "hash" not in everything
    assert PASSWORD not in everything

    refused = await browser.get("/api/v1/admin/users", headers=operator)
    assert refused.status_code == 403
    assert "needs the admin role" in refused.json()["error"]
    bad = await browser.get("/api/v1/admin/apps/no such app/keys", headers=admin)
    assert bad.status_code == 400
