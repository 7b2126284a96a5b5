"""The sign-in page, its form, one-time sign-in links, sign-out, and single sign-on's landing.

``GET /signin`` shows the form (and the single sign-on button when OIDC is configured);
``GET /signin?code=...`` redeems a one-time link (``baton up``'s first admin, ``baton users
link``); ``POST /signin`` checks a name and password; ``POST /signout`` ends the session (a local
user's every session). Failed attempts, of passwords and of codes, are counted per source address
(``runtime.admission``): past ``SIGNIN_LIMITS`` the source is refused with 429 without a check for
a while, and each failure is an audit row (``user.signin_failed``). After signing in, the browser
goes back to the local page it asked for (``next``), never elsewhere.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from console.access.identity import IdentityKind, identity_of
from console.access.sessions import end_session, start_session
from console.actors import require_same_origin
from console.dashboard.pages import PAGE_HEADERS, Pages, read_form
from console.oidc.flow import OidcError, OidcIdentity, safe_return_path
from runtime.admission import AdmissionLimits, HandshakeAdmission, Verdict, source_of
from runtime.clock import wall_ms
from store.database import Store
from store.roles import Role
from store.users import check_password, end_sessions, failed_signin_row, redeem_signin_code

logger = logging.getLogger(__name__)

SIGNIN_LIMITS = AdmissionLimits(max_failures=10, window_ms=300_000, block_ms=300_000, max_pending=4)
"""Ten failed sign-ins from one address within five minutes block it for five minutes."""
_WRONG = "wrong name or password"
_BAD_LINK = (
    "this sign-in link is used up or expired: ask an admin for a new one (`baton users link NAME`)"
)


class SignIn:
    """The sign-in routes over the store's users."""

    def __init__(
        self,
        store: Store,
        pages: Pages,
        *,
        single_sign_on: bool,
        limits: AdmissionLimits = SIGNIN_LIMITS,
    ) -> None:
        self._store = store
        self._pages = pages
        self._single_sign_on = single_sign_on
        self._admission = HandshakeAdmission(limits)

    def routes(self) -> list[Route]:
        return [
            Route("/signin", self.page, methods=["GET"], include_in_schema=False),
            Route("/signin", self.submit, methods=["POST"], include_in_schema=False),
            Route("/signout", self.sign_out, methods=["POST"], include_in_schema=False),
        ]

    async def page(self, request: Request) -> Response:
        """The form, or a one-time link's redemption."""
        next_path = safe_return_path(request.query_params.get("next"))
        code = request.query_params.get("code")
        if code is not None:
            return await self._redeem(request, code, next_path)
        if identity_of(request) is not None:
            return _go(next_path)
        return self._form(request, next_path)

    async def submit(self, request: Request) -> Response:
        """A posted name and password."""
        require_same_origin(request)
        form = await read_form(request)
        next_path = safe_return_path(form.get("next"))
        name = form.get("name") or ""
        source = self._source(request)
        refused = self._blocked(request, source, next_path)
        if refused is not None:
            return refused
        try:
            async with self._store.sessionmaker.begin() as session:
                password = next(iter(form.all("password", strip=False)), "")
                user = await check_password(session, name, password)
                if user is None:
                    session.add(failed_signin_row(name, source, _WRONG))
        finally:
            self._admission.done(source)
        if user is None:
            self._admission.failed(source, wall_ms())
            logger.info("console: failed sign-in as %r from %s", name[:64], source)
            return self._form(request, next_path, error=_WRONG, status_code=401, name=name)
        start_session(request, user.name, IdentityKind.USER)
        logger.info("console: %s signed in", user.name)
        return _go(next_path)

    async def sign_out(self, request: Request) -> Response:
        """End the session: a local user's every session, a single sign-on user's this one."""
        require_same_origin(request)
        identity = identity_of(request)
        if identity is not None and identity.kind is IdentityKind.USER:
            async with self._store.sessionmaker.begin() as session:
                await end_sessions(session, identity.name)
        end_session(request)
        return RedirectResponse("/signin", status_code=303, headers=PAGE_HEADERS)

    async def on_single_sign_on(self, request: Request, identity: OidcIdentity) -> Response:
        """Sign in a user the provider vouched for (``console.oidc.routes``' callback)."""
        start_session(request, identity.name[:120], IdentityKind.OIDC, Role.parse(identity.role))
        logger.info("console: %s signed in through single sign-on", identity.name[:64])
        return _go(identity.return_to)

    async def on_single_sign_on_refused(self, request: Request, error: OidcError) -> Response:
        """A refused single sign-on (``console.oidc.routes``): audited like a wrong password, and
        answered with the sign-in page saying why."""
        source = self._source(request)
        async with self._store.sessionmaker.begin() as session:
            session.add(failed_signin_row("(single sign-on)", source, str(error)[:200]))
        logger.info("console: single sign-on refused from %s: %s", source, str(error)[:200])
        return self._form(
            request, "/", error=f"single sign-on failed: {error}", status_code=error.status
        )

    async def _redeem(self, request: Request, code: str, next_path: str) -> Response:
        source = self._source(request)
        refused = self._blocked(request, source, next_path)
        if refused is not None:
            return refused
        try:
            async with self._store.sessionmaker.begin() as session:
                user = await redeem_signin_code(session, code[:128])
                if user is None:
                    session.add(failed_signin_row("(sign-in link)", source, _BAD_LINK))
        finally:
            self._admission.done(source)
        if user is None:
            self._admission.failed(source, wall_ms())
            return self._form(request, next_path, error=_BAD_LINK, status_code=401)
        start_session(request, user.name, IdentityKind.USER)
        logger.info("console: %s signed in with a one-time link", user.name)
        return _go(next_path)

    def _blocked(self, request: Request, source: str, next_path: str) -> Response | None:
        now_ms = wall_ms()
        if self._admission.begin(source, now_ms) is Verdict.CHECK:
            return None
        wait_s = max(1, self._admission.blocked_for_ms(source, now_ms) // 1000)
        return self._form(
            request,
            next_path,
            error=f"too many failed sign-ins from your address: try again in {wait_s} s",
            status_code=429,
        )

    def _form(
        self,
        request: Request,
        next_path: str,
        *,
        error: str | None = None,
        status_code: int = 200,
        name: str = "",
    ) -> Response:
        context = {
            "app": None,
            "tab": "signin",
            "next": next_path,
            "error": error,
            "name": name[:64],
            "single_sign_on": self._single_sign_on,
            "sso_url": f"/auth/oidc/login?next={quote(next_path, safe='')}",
        }
        return self._pages.render(
            request, "signin.html", context, refresh=False, status_code=status_code
        )

    @staticmethod
    def _source(request: Request) -> str:
        return source_of(request.client.host if request.client else "unknown")


def _go(path: str) -> Response:
    return RedirectResponse(path, status_code=303, headers=PAGE_HEADERS)
