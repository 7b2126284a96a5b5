"""``/auth/oidc/login`` and ``/auth/oidc/callback``: single sign-on as two Starlette routes.

``oidc_routes(config, on_signed_in)`` returns the routes for the console app to mount. The login
route (``GET /auth/oidc/login?next=/path``) sends the browser to the provider and keeps the flow
in a signed cookie scoped to ``/auth/oidc`` (``console.oidc.flow``); the callback checks it,
validates the provider's answer (``console.oidc.provider``) and hands the identity to
``on_signed_in(request, identity)``, whose response (the login system sets its session cookie on
it and redirects to ``identity.return_to``) is returned with the flow cookie cleared. A refused
sign-in goes to ``on_refused(request, error)`` instead (by default: a plain-text page with
``error.status``); it never reaches ``on_signed_in``.

The routes know nothing of how sessions are stored: the callbacks do.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from console.oidc.config import OidcConfig
from console.oidc.flow import (
    OidcError,
    OidcIdentity,
    authorization_code,
    flow_key,
    identity_from_claims,
    safe_return_path,
    seal,
    unseal,
)
from console.oidc.provider import OidcProvider
from runtime.clock import wall_ms

logger = logging.getLogger(__name__)

FLOW_COOKIE = "baton_oidc_flow"
COOKIE_PATH = "/auth/oidc"

OnSignedIn = Callable[[Request, OidcIdentity], Awaitable[Response]]
"""Signs the user in (sets the session) and answers the browser; given a mapped identity."""
OnRefused = Callable[[Request, OidcError], Awaitable[Response]]
"""Answers a refused sign-in; ``str(error)`` is safe to show."""


def oidc_routes(
    config: OidcConfig,
    on_signed_in: OnSignedIn,
    *,
    on_refused: OnRefused | None = None,
    provider: OidcProvider | None = None,
) -> list[Route]:
    """The two single sign-on routes, named ``oidc_login`` and ``oidc_callback``.

    Args:
        config: the provider, client and role mapping (``Settings.oidc``).
        on_signed_in: called once per successful sign-in.
        on_refused: called for every refused one (default: ``refused_page``).
        provider: the provider client (default: one for ``config``; the routes keep it, with
            its discovery document and keys, for the app's lifetime).
    """
    endpoints = _Endpoints(
        config=config,
        provider=provider or OidcProvider(config),
        on_signed_in=on_signed_in,
        on_refused=on_refused or refused_page,
    )
    return [
        Route(f"{COOKIE_PATH}/login", endpoints.login, methods=["GET"], name="oidc_login"),
        Route(f"{COOKIE_PATH}/callback", endpoints.callback, methods=["GET"], name="oidc_callback"),
    ]


async def refused_page(request: Request, error: OidcError) -> Response:
    """The default answer to a refused sign-in: what went wrong, as plain text."""
    return PlainTextResponse(f"Single sign-on failed: {error}\n", status_code=error.status)


class _Endpoints:
    def __init__(
        self,
        *,
        config: OidcConfig,
        provider: OidcProvider,
        on_signed_in: OnSignedIn,
        on_refused: OnRefused,
    ) -> None:
        self._config = config
        self._provider = provider
        self._key = flow_key(config.client_secret)
        self._on_signed_in = on_signed_in
        self._on_refused = on_refused

    async def login(self, request: Request) -> Response:
        redirect_uri = self._config.redirect_url or str(request.url_for("oidc_callback"))
        try:
            url, flow = await self._provider.authorization_request(
                redirect_uri=redirect_uri,
                return_to=safe_return_path(request.query_params.get("next")),
                now_ms=wall_ms(),
            )
        except OidcError as exc:
            return await self._refuse(request, exc)
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            FLOW_COOKIE,
            seal(flow, self._key),
            max_age=self._config.flow_ttl_s,
            path=COOKIE_PATH,
            secure=redirect_uri.startswith("https:"),
            httponly=True,
            # Lax, not Strict: the provider sends the browser back with a cross-site navigation.
            samesite="lax",
        )
        return response

    async def callback(self, request: Request) -> Response:
        try:
            flow = unseal(request.cookies.get(FLOW_COOKIE), self._key, now_ms=wall_ms())
            code = authorization_code(flow, request.query_params, issuer=self._config.issuer)
            claims = await self._provider.sign_in(flow, code)
            identity = identity_from_claims(claims, self._config, return_to=flow.return_to)
        except OidcError as exc:
            response = await self._refuse(request, exc)
        else:
            logger.info(
                "single sign-on: %s of %s signed in as %s",
                identity.subject,
                identity.issuer,
                identity.role,
            )
            response = await self._on_signed_in(request, identity)
        # One use: a replayed callback finds no flow.
        response.delete_cookie(FLOW_COOKIE, path=COOKIE_PATH)
        return response

    async def _refuse(self, request: Request, error: OidcError) -> Response:
        logger.warning("single sign-on refused (%d): %s", error.status, error)
        return await self._on_refused(request, error)
