"""Who is acting: the audit log's ``actor`` of every action taken through the console, and the
dashboard's same-origin rule for form posts.

The caller was identified (and their role checked) by ``console.access.guard`` before any route
ran; this reads the result for the routes that record actions. Must not import the gateway, Faust
or Kafka.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from console.access.guard import NO_CREDENTIALS
from console.access.identity import identity_of


class ActorResolver:
    """Names a request's caller for the audit log."""

    async def actor(self, request: Request) -> str:
        """The actor of an action request (``user:alice``, ``token:ci``...).

        Raises:
            HTTPException: 401 when nobody is signed in (the guard lets no such request reach an
                action's route; this holds if a route is ever mounted around it).
        """
        identity = identity_of(request)
        if identity is None:
            raise HTTPException(401, NO_CREDENTIALS)
        return identity.actor


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
