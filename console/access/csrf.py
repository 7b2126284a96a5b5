"""CSRF protection of every form: asgi-csrf's signed double-submit cookie (the one
``import asgi_csrf``).

Every page that renders a form puts ``csrf_token(request)`` in a hidden ``csrftoken`` field; a
post that carries cookies must echo it (or send it as ``x-csrftoken``), else it is refused with
403 before any route runs. Requests without cookies (the CLI, scripts) and ``Authorization:
Bearer`` requests are not a browser's ambient credentials and pass; the sign-in form is checked
even without cookies (a login CSRF would sign a victim into an attacker's account).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgi_csrf import asgi_csrf  # type: ignore[import-untyped]
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Scope, Send

CSRF_COOKIE = "baton_csrf"
CSRF_FIELD = "csrftoken"
"""The hidden field's name (asgi-csrf's default, which it reads)."""
_SCOPE_KEY = "csrftoken"
ALWAYS_CHECKED = ("/signin",)
"""Posts checked even when they carry no cookie."""

Refuse = Callable[[Scope, Send, str], Awaitable[None]]
"""Answers a refused post: the scope, the send channel, and the reason to show."""


def csrf_protection(app: ASGIApp, *, secret: str, refuse: Refuse, secure: bool) -> ASGIApp:
    """``app`` behind CSRF checks on every unsafe method."""

    async def send_failed(scope: Scope, send: Send, message_id: Any) -> None:
        await refuse(
            scope,
            send,
            "this form expired or did not come from the console: reload the page and try again",
        )

    protected: ASGIApp = asgi_csrf(
        app,
        signing_secret=secret,
        cookie_name=CSRF_COOKIE,
        always_protect=set(ALWAYS_CHECKED),
        send_csrf_failed=send_failed,
        cookie_secure=secure,
    )
    return protected


def csrf_token(connection: HTTPConnection) -> str:
    """The token a form of this page must post back ("" outside CSRF protection)."""
    make = connection.scope.get(_SCOPE_KEY)
    return str(make()) if callable(make) else ""
