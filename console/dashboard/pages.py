"""The dashboard's page answers: HTML with its security headers, the live region alone for a
partial refresh, the redirect after a form post, and HTML form bodies.

Owns the pages' headers (a strict Content-Security-Policy: no inline script or style), the
``X-Baton-Partial`` rule (a request with ``X-Baton-Partial: live``, sent by ``static/console.js``,
gets only the page's ``live`` block), and reading an ``application/x-www-form-urlencoded`` body
(bounded; Starlette's own form parser needs python-multipart, which the console does without).
Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from console.access.csrf import csrf_token
from console.access.identity import identity_of
from console.dashboard.templating import render_page, render_region
from management.params import BadParameter
from store.roles import Role

PARTIAL_HEADER = "X-Baton-Partial"
"""Header naming the block to render alone (``live``)."""
LIVE_BLOCK = "live"
MAX_FORM_BYTES = 2 * 1024 * 1024
"""A bulk selection posts up to a page of workflow ids (500 of at most 512 characters)."""
MAX_FORM_FIELDS = 2_000

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Vary": PARTIAL_HEADER,
}

_FORM_TYPE = "application/x-www-form-urlencoded"
_CHECKED = ("on", "true", "1")


class Pages:
    """Renders dashboard pages.

    Args:
        env: the template environment (``console.dashboard.templating.build_environment``).
        refresh_interval_s: how often a page refreshes its live region; ``<= 0``: never.
    """

    def __init__(self, env: jinja2.Environment, *, refresh_interval_s: float) -> None:
        self._env = env
        self._refresh_ms = max(0, round(refresh_interval_s * 1000))

    def render(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any],
        *,
        refresh: bool = True,
        status_code: int = 200,
    ) -> Response:
        """A page, or only its live region when the request asks for it.

        Args:
            request: the request (its ``X-Baton-Partial`` header).
            name: the template.
            context: the template's variables.
            refresh: whether the page refreshes its live region (when the console does).
            status_code: the answer's status.
        """
        identity = identity_of(request)
        full = {
            **context,
            "refresh_ms": self._refresh_ms if refresh else 0,
            "identity": identity,
            "can_act": identity is not None and identity.role.allows(Role.OPERATOR),
            "csrftoken": csrf_token(request),
        }
        if request.headers.get(PARTIAL_HEADER) == LIVE_BLOCK:
            body = render_region(self._env, name, LIVE_BLOCK, full)
        else:
            body = render_page(self._env, name, full)
        return HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)


def error_page(env: jinja2.Environment, status_code: int, message: str) -> Response:
    """An HTML error page (the message is escaped like everything else)."""
    body = render_page(
        env,
        "error.html",
        {"status_code": status_code, "message": message, "app": None, "tab": None, "refresh_ms": 0},
    )
    return HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)


def see_other(url: str) -> Response:
    """The answer to a form post that did something: go (GET) to the page that shows it."""
    return RedirectResponse(url, status_code=303, headers=PAGE_HEADERS)


def new_idempotency_key() -> str:
    """A fresh key for a confirmation form: submitting the form twice acts once."""
    return uuid.uuid4().hex


class Form:
    """An HTML form's fields (from a body or a query string); empty values count as absent."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(name, []).append(value)

    def get(self, name: str) -> str | None:
        """The field's first non-empty value (stripped), or None."""
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str, *, strip: bool = True) -> list[str]:
        """Every non-blank value of the field, in order, stripped unless told not to (an id may
        hold spaces)."""
        return [v.strip() if strip else v for v in self._values.get(name, []) if v.strip()]

    def flag(self, name: str) -> bool:
        """A checkbox: checked or not."""
        return self.get(name) in _CHECKED

    def items(self, names: Iterable[str]) -> list[tuple[str, str]]:
        """The non-empty ``(name, value)`` pairs of the given fields."""
        return [(name, value) for name in names for value in self.all(name)]


async def read_form(request: Request) -> Form:
    """A posted HTML form.

    Raises:
        BadParameter: not a URL-encoded form, too large, or not UTF-8.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != _FORM_TYPE:
        raise BadParameter("body", f"post the form as {_FORM_TYPE}")
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_FORM_BYTES:
            raise BadParameter("body", f"at most {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(
            raw.decode("ascii"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            errors="strict",
        )
    except (UnicodeError, ValueError):
        raise BadParameter("body", "not a URL-encoded UTF-8 form") from None
    return Form(pairs)
