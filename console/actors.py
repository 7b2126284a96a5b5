"""Who is acting: the audit log's ``actor`` of every action taken through the console.

Owns the rules (docs/management-design.md): an API token (``Authorization: Bearer ...``, made with
``baton tokens create``) is ``token:<name>``; else the user a trusted auth proxy names in a
configured header is ``user:<name>``; else ``local``, which ``require_token`` refuses. Also the
dashboard's same-origin rule for form posts. Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request

from store.database import Store
from store.tokens import verify_token

LOCAL_ACTOR = "local"
_PROXY_USER = re.compile(r"[^\x00-\x1f\x7f]{1,120}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ActorPolicy:
    """How the console tells who acts.

    Attributes:
        user_header: the header a trusted auth proxy sets to the signed-in user (None: not used).
        require_token: refuse actions without a token (or proxy user) with 401.
    """

    user_header: str | None = None
    require_token: bool = False


class ActorResolver:
    """Resolves a request's actor, or refuses it (401)."""

    def __init__(self, store: Store, policy: ActorPolicy) -> None:
        self._store = store
        self._policy = policy

    async def actor(self, request: Request) -> str:
        """The actor of an action request.

        Raises:
            HTTPException: 401 for an unknown or revoked token, or no identity when one is required.
        """
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise HTTPException(
                    401, "use 'Authorization: Bearer <token>' (baton tokens create)"
                )
            async with self._store.sessionmaker.begin() as session:
                name = await verify_token(session, token.strip())
            if name is None:
                raise HTTPException(
                    401, "unknown or revoked API token: create one with `baton tokens create NAME`"
                )
            return f"token:{name}"
        if self._policy.user_header is not None:
            user = request.headers.get(self._policy.user_header)
            if user is not None and _PROXY_USER.fullmatch(user):
                return f"user:{user}"
        if self._policy.require_token:
            raise HTTPException(
                401,
                "this console requires an API token for actions: send 'Authorization: Bearer "
                "<token>' (create one with `baton tokens create NAME`)",
            )
        return LOCAL_ACTOR


def refuse_cross_site(request: Request) -> None:
    """Refuse an action a browser sent from another site (cross-site request forgery).

    A browser names the page's origin (``Origin``, ``Sec-Fetch-Site``) on every cross-site post;
    a request without either (the CLI, curl) passes. The API also takes only JSON bodies, which a
    cross-site form cannot send.

    Raises:
        HTTPException: 403 when a browser sent it from elsewhere.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise HTTPException(403, "cross-site requests are refused")
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise HTTPException(403, "cross-site requests are refused")


def require_same_origin(request: Request) -> None:
    """Refuse a dashboard form post that is not from the console's own pages.

    Browsers send ``Origin`` (or ``Sec-Fetch-Site``) on every form post; it must be this console.

    Raises:
        HTTPException: 403 when the post comes from elsewhere, or names no origin.
    """
    refuse_cross_site(request)
    origin = request.headers.get("origin")
    if (origin is None or origin == "null") and request.headers.get("sec-fetch-site") is None:
        raise HTTPException(403, "form posts must come from the console's own pages")
