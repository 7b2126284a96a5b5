"""Single sign-on against a real OpenID Connect provider (oidc-provider on Node.js, started by the
``oidc_provider`` session fixture), driven as a browser drives it.

The console's two routes run in-process behind httpx2's ASGI transport, mounted at the origin of
the callback registered at the provider; every other request goes to the provider over loopback.
A test follows the redirects, and posts the provider's sign-in and consent forms as a person
would by typing a login and pressing the buttons.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from console.oidc.config import OidcConfig, parse_role_map
from console.oidc.flow import FlowState, OidcError, OidcIdentity
from console.oidc.provider import OidcProvider
from console.oidc.routes import FLOW_COOKIE, oidc_routes
from runtime.clock import wall_ms
from tests.oidc_provider.fixture import LocalProvider

ROLES = "baton-admins=admin,baton-operators=operator"


def config_for(provider: LocalProvider, roles: str = ROLES) -> OidcConfig:
    return OidcConfig(
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        scopes=("openid", "profile", "email", "groups"),
        role_map=parse_role_map(roles),
    )


class Console:
    """An app with the two routes whose ``on_signed_in`` records who signed in."""

    def __init__(self, config: OidcConfig) -> None:
        self.signed_in: list[OidcIdentity] = []
        self.app = Starlette(routes=oidc_routes(config, self.on_signed_in))

    async def on_signed_in(self, request: Request, identity: OidcIdentity) -> Response:
        self.signed_in.append(identity)
        return PlainTextResponse(f"signed in: {identity.name} as {identity.role}")


@asynccontextmanager
async def browser(provider: LocalProvider, console: Console) -> AsyncIterator[httpx2.AsyncClient]:
    """A cookie-keeping client: the console in-process at its origin, the provider over TCP."""
    transport = httpx2.ASGITransport(app=console.app)
    async with httpx2.AsyncClient(
        mounts={provider.console_origin: transport}, timeout=10, follow_redirects=True
    ) as client:
        yield client


class _Forms(HTMLParser):
    """The first form of a page: its action and its inputs' values."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = values.get("action") or ""
        elif tag == "input" and values.get("name") and self.action is not None:
            self.fields[values["name"] or ""] = values.get("value") or ""


async def submit(
    client: httpx2.AsyncClient, page: httpx2.Response, *, follow: bool = True, **typed: str
) -> httpx2.Response:
    """Fill in the page's form with ``typed`` and press its button."""
    form = _Forms()
    form.feed(page.text)
    assert form.action is not None, f"no form on {page.url}: {page.text[:500]}"
    return await client.post(
        urljoin(str(page.url), form.action),
        data={**form.fields, **typed},
        follow_redirects=follow,
    )


async def callback_url(
    client: httpx2.AsyncClient, provider: LocalProvider, authorize: str, login: str
) -> str:
    """Sign in as ``login`` at the provider from its authorization URL and consent; the URL it
    then sends the browser to (the console's callback), not yet followed."""
    sign_in_page = await client.get(authorize)
    assert sign_in_page.status_code == 200, sign_in_page.text
    assert "Sign-in" in sign_in_page.text
    consent_page = await submit(client, sign_in_page, login=login, password="any password")
    assert "Authorize" in consent_page.text, consent_page.text[:500]
    response = await submit(client, consent_page, follow=False)
    for _ in range(5):
        assert response.is_redirect, response.text[:500]
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(provider.redirect_uri):
            return location
        response = await client.get(location, follow_redirects=False)
    raise AssertionError(f"the provider did not send the browser back: {response.text[:500]}")


async def start(client: httpx2.AsyncClient, provider: LocalProvider, next_path: str = "/") -> str:
    """Press "sign in with SSO": the provider's authorization URL the console redirected to."""
    response = await client.get(
        f"{provider.console_origin}/auth/oidc/login",
        params={"next": next_path},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert FLOW_COOKIE in response.headers["set-cookie"]
    assert "HttpOnly" in response.headers["set-cookie"]
    return response.headers["location"]


async def sign_in_at_provider(
    client: httpx2.AsyncClient, provider: LocalProvider, login: str, next_path: str = "/"
) -> str:
    """Start at the console, sign in as ``login`` at the provider: the callback URL."""
    return await callback_url(client, provider, await start(client, provider, next_path), login)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.mark.parametrize(
    ("login", "role", "name"),
    [("alice", "operator", "Alice Operator"), ("ada", "admin", "Ada Admin")],
)
async def test_code_flow_hands_the_mapped_role_to_on_signed_in(
    oidc_provider: LocalProvider, login: str, role: str, name: str
) -> None:
    console = Console(config_for(oidc_provider))
    async with browser(oidc_provider, console) as client:
        authorize = await start(client, oidc_provider, next_path="/workflows?status=ERROR")
        query = parse_qs(urlsplit(authorize).query)
        assert query["code_challenge_method"] == ["S256"]
        assert {"state", "nonce", "code_challenge"} <= set(query)
        landed = await client.get(await callback_url(client, oidc_provider, authorize, login))

    assert landed.status_code == 200, landed.text
    assert landed.text == f"signed in: {name} as {role}"
    assert FLOW_COOKIE in landed.headers["set-cookie"]  # cleared
    assert console.signed_in == [
        OidcIdentity(
            issuer=oidc_provider.issuer,
            subject=login,
            name=name,
            email=f"{login}@example.test",
            role=role,
            return_to="/workflows?status=ERROR",
        )
    ]


async def test_a_user_in_no_mapped_group_is_refused_unless_a_fallback_says_so(
    oidc_provider: LocalProvider,
) -> None:
    refused = Console(config_for(oidc_provider))
    async with browser(oidc_provider, refused) as client:
        landed = await client.get(await sign_in_at_provider(client, oidc_provider, "eve"))
    assert landed.status_code == 403
    assert "gives no role to groups []" in landed.text
    assert "baton-admins, baton-operators" in landed.text
    assert refused.signed_in == []

    viewer = Console(config_for(oidc_provider, roles=f"{ROLES},*=viewer"))
    async with browser(oidc_provider, viewer) as client:
        landed = await client.get(await sign_in_at_provider(client, oidc_provider, "eve"))
    assert landed.status_code == 200
    assert [i.role for i in viewer.signed_in] == ["viewer"]


async def test_a_tampered_state_is_refused(oidc_provider: LocalProvider) -> None:
    console = Console(config_for(oidc_provider))
    async with browser(oidc_provider, console) as client:
        callback = await callback_url(
            client, oidc_provider, await start(client, oidc_provider), "alice"
        )
        forged = await client.get(with_query(callback, state="forged-by-an-attacker"))
        assert forged.status_code == 400
        assert "does not match this browser's sign-in (state)" in forged.text
        # The flow cookie is spent: not even the genuine answer is taken afterwards.
        replay = await client.get(callback)
    assert replay.status_code == 400
    assert "no sign-in in progress" in replay.text
    assert console.signed_in == []


async def test_a_callback_without_this_browsers_flow_cookie_is_refused(
    oidc_provider: LocalProvider,
) -> None:
    """Login CSRF: an attacker's own genuine callback URL, opened in the victim's browser."""
    console = Console(config_for(oidc_provider))
    async with browser(oidc_provider, console) as attacker:
        callback = await callback_url(
            attacker, oidc_provider, await start(attacker, oidc_provider), "ada"
        )
    async with browser(oidc_provider, console) as victim:
        await start(victim, oidc_provider)  # the victim's own sign-in, elsewhere in progress
        landed = await victim.get(callback)
    assert landed.status_code == 400
    assert "(state)" in landed.text
    assert console.signed_in == []


async def test_declining_at_the_provider_is_a_refusal(oidc_provider: LocalProvider) -> None:
    console = Console(config_for(oidc_provider))
    async with browser(oidc_provider, console) as client:
        sign_in_page = await client.get(await start(client, oidc_provider))
        abort = urljoin(str(sign_in_page.url), str(sign_in_page.url.path) + "/abort")
        landed = await client.get(abort)
    assert landed.status_code == 403
    assert "the provider refused the sign-in: End-User aborted interaction" in landed.text
    assert console.signed_in == []


async def real_id_token(provider: LocalProvider, oidc: OidcProvider) -> tuple[str, FlowState]:
    """A genuine ID token the provider issued to our client for alice, and its flow."""
    console = Console(config_for(provider))
    async with browser(provider, console) as client:
        authorize, flow = await oidc.authorization_request(
            redirect_uri=provider.redirect_uri, return_to="/", now_ms=wall_ms()
        )
        callback = await callback_url(client, provider, authorize, "alice")
    code = parse_qs(urlsplit(callback).query)["code"][0]
    token = await oidc.exchange(flow, code)
    return token["id_token"], flow


async def test_id_tokens_for_another_audience_or_sign_in_are_refused(
    oidc_provider: LocalProvider,
) -> None:
    config = config_for(oidc_provider)
    ours = OidcProvider(config)
    id_token, flow = await real_id_token(oidc_provider, ours)
    claims = await ours.validate_id_token(id_token, nonce=flow.nonce)
    assert claims["sub"] == "alice"
    assert claims["aud"] == oidc_provider.client_id

    other_client = OidcProvider(dataclasses.replace(config, client_id="another-console"))
    with pytest.raises(OidcError, match=r"not valid.*aud") as refused:
        await other_client.validate_id_token(id_token, nonce=flow.nonce)
    assert refused.value.status == 400
    with pytest.raises(OidcError, match=r"not valid.*nonce"):
        await ours.validate_id_token(id_token, nonce="another-sign-in")
    expires = int(claims["exp"])  # type: ignore[call-overload]
    with pytest.raises(OidcError, match=r"not valid.*expired"):
        await ours.validate_id_token(id_token, nonce=flow.nonce, now_s=expires + 61)
    header, payload, signature = id_token.split(".")
    forged_signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(OidcError, match="not valid"):
        await ours.validate_id_token(f"{header}.{payload}.{forged_signature}", nonce=flow.nonce)
