"""The access middleware: who each request is, and whether their role lets them through.

Runs inside the session middleware (it reads the signed session) and outside the routes, so no
route can forget it. The caller is, first match wins: an ``Authorization: Bearer`` API token
(``store.tokens``), a signed-in session (``console.access.sessions``), or the user a trusted auth
proxy names in its header (only when ``BATON_CONSOLE_USER_HEADER`` is set). Then
``console.access.rules`` says what the route needs:

* nobody signed in: the API (and any client that does not ask for HTML) gets 401 with a JSON
  error and ``WWW-Authenticate: Bearer``; a browser asking for a page is sent to the sign-in page,
  which brings it back after;
* a role too weak: 403 naming the role needed, and an audit row (``access.denied``);
* else the route runs, with the ``Identity`` in the scope (``identity_of``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from console.access.identity import SCOPE_KEY, Identity, IdentityKind
from console.access.rules import (
    PAYLOADS_WITHHELD,
    READ_METHODS,
    carries_only_payloads,
    required_role,
)
from console.access.sessions import (
    DEFAULT_SESSION_LIFETIME_S,
    SessionClaim,
    end_session,
    session_claim,
)
from store.audit import admin_action, repeatable_row
from store.database import Store
from store.models import NO_APP, validate_app_name
from store.roles import Role
from store.tokens import verify_token
from store.users import session_user
from streams.exceptions import ConductorError
from streams.records import ActionOutcome

logger = logging.getLogger(__name__)

Answer = Callable[[Request, int, str, Mapping[str, str] | None], Response]
"""Answers an error: JSON for the API, an HTML page for a browser (``console.app``)."""
WantsHtml = Callable[[Request], bool]

SIGN_IN_PATH = "/signin"
_PROXY_USER = re.compile(r"[^\x00-\x1f\x7f]{1,120}")
_APP_IN_PATH = re.compile(r"/(?:api/v1/)?apps/([^/]+)")
NO_CREDENTIALS = (
    "sign in, or send an API token as 'Authorization: Bearer <token>' (an admin makes one with "
    "`baton tokens create NAME --role viewer|operator|admin`)"
)


class Unauthorized(ConductorError):
    """The request's credentials are refused (not merely absent): a 401."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessPolicy:
    """How the console tells who a request is.

    Attributes:
        cookie_secret: signs session and CSRF cookies (``store.console_secret``).
        session_lifetime_s: a session ends this long after sign-in.
        secure_cookies: cookies only over HTTPS (the console serves TLS, or a proxy does).
        proxy_user_header: a header a trusted auth proxy sets to the signed-in user (None: not
            used); honoured only when configured.
        proxy_user_role: the role of users named by that header.
        viewers_see_payloads: False: viewers are shown no workflow inputs, outputs, errors or
            step outputs in any app, and are refused the routes that carry nothing else.
    """

    cookie_secret: str
    session_lifetime_s: float = DEFAULT_SESSION_LIFETIME_S
    secure_cookies: bool = False
    proxy_user_header: str | None = None
    proxy_user_role: Role = Role.OPERATOR
    viewers_see_payloads: bool = True


class AccessGuard:
    """The ASGI middleware; see the module's docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: Store,
        policy: AccessPolicy,
        answer: Answer,
        wants_html: WantsHtml,
    ) -> None:
        self._app = app
        self._store = store
        self._policy = policy
        self._answer = answer
        self._wants_html = wants_html

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request = Request(scope, receive)
        needed = required_role(request.method, request.url.path)
        try:
            identity = await self.identify(request)
        except Unauthorized as exc:
            identity = None
            if needed is not None:
                await self._answer(request, 401, str(exc), _CHALLENGE)(scope, receive, send)
                return
        if needed is not None:
            refusal = await self._refusal(request, identity, needed)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        withheld = not self._policy.viewers_see_payloads
        if withheld and identity is not None and identity.role is Role.VIEWER:
            identity = replace(identity, sees_payloads=False)
            if carries_only_payloads(request.url.path):
                await self._answer(request, 403, PAYLOADS_WITHHELD, None)(scope, receive, send)
                return
        scope[SCOPE_KEY] = identity
        await self._app(scope, receive, send)

    async def identify(self, request: Request) -> Identity | None:
        """The request's caller; None when it names none.

        Raises:
            Unauthorized: a token is malformed, unknown or revoked.
        """
        authorization = request.headers.get("authorization")
        if authorization is not None:
            return await self._token_identity(authorization)
        claim = session_claim(request, self._policy.session_lifetime_s)
        if claim is not None:
            identity = await self._session_identity(claim)
            if identity is not None:
                return identity
            end_session(request)
        header = self._policy.proxy_user_header
        user = None if header is None else request.headers.get(header)
        if user is not None and _PROXY_USER.fullmatch(user):
            return Identity(name=user, kind=IdentityKind.PROXY, role=self._policy.proxy_user_role)
        return None

    async def _token_identity(self, authorization: str) -> Identity:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>' (baton tokens create)")
        async with self._store.sessionmaker.begin() as session:
            found = await verify_token(session, token.strip())
        if found is None:
            raise Unauthorized(
                "unknown or revoked API token: an admin makes one with `baton tokens create NAME`"
            )
        name, role = found
        return Identity(name=name, kind=IdentityKind.TOKEN, role=role)

    async def _session_identity(self, claim: SessionClaim) -> Identity | None:
        if claim.kind is IdentityKind.OIDC:
            if claim.role is None:
                return None
            return Identity(name=claim.name, kind=claim.kind, role=claim.role)
        async with self._store.sessionmaker.begin() as session:
            user = await session_user(session, claim.name, claim.started_at)
        if user is None:
            return None
        return Identity(name=user.name, kind=IdentityKind.USER, role=Role(user.role))

    async def _refusal(
        self, request: Request, identity: Identity | None, needed: Role
    ) -> Response | None:
        if identity is None:
            if request.method in READ_METHODS and self._wants_html(request):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{SIGN_IN_PATH}?next={quote(target, safe='')}", 303)
            return self._answer(request, 401, NO_CREDENTIALS, _CHALLENGE)
        if identity.role.allows(needed):
            return None
        message = (
            f"{identity.actor} has the {identity.role.value} role; this needs the "
            f"{needed.value} role: ask an admin (`baton users role NAME {needed.value}`)"
        )
        await self._audit_denial(request, identity, needed, message)
        return self._answer(request, 403, message, None)

    async def _audit_denial(
        self, request: Request, identity: Identity, needed: Role, message: str
    ) -> None:
        record = admin_action(
            app=_app_of(request.url.path),
            actor=identity.actor,
            action="access.denied",
            target=request.url.path[:512],
            now=datetime.now(UTC),
            params={"method": request.method, "needs": needed.value, "role": identity.role.value},
        )
        denied = replace(record, outcome=ActionOutcome.REJECTED, error=message)
        async with self._store.sessionmaker.begin() as session:
            session.add(repeatable_row(denied))
        logger.info("console: %s refused %s %s", identity.actor, request.method, request.url.path)


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="baton"'}


def _app_of(path: str) -> str:
    """The app a path is about (for the audit log's per-app view), else no app."""
    match = _APP_IN_PATH.match(path)
    if match is None:
        return NO_APP
    try:
        return validate_app_name(unquote(match[1]))
    except ValueError:
        return NO_APP
