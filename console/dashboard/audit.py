"""The dashboard's audit page: every operator action and recovery decision, newest first, filtered
by app, actor, action, target and outcome, a page at a time (keyset cursor).

Owns the page's query parameters; the query is ``store.audit.list_audit``. Must not import the
gateway, Faust or Kafka.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.api.management_json import audit_entry_json
from console.dashboard.pages import Pages
from management.params import MAX_TEXT_PARAM_CHARS, BadParameter, parse_app
from store.audit import AuditFilter, list_audit
from store.database import Store

AUDIT_PAGE_SIZE = 50
FILTERS = ("app", "actor", "action", "target", "outcome")
OUTCOMES = ("succeeded", "failed", "rejected", "ok", "stranded", "abandoned")
"""Operator actions end succeeded, failed or rejected; recovery steps ok, succeeded, failed,
stranded or abandoned."""
ACTION_HINTS = (
    "workflow.",
    "workflow.cancel",
    "workflow.resume",
    "workflow.restart",
    "workflow.fork",
    "workflow.rewind",
    "workflow.delete",
    "bulk.",
    "schedule.",
    "version.set_latest",
    "recovery.",
)
"""Suggestions for the action filter (a value ending in ``.`` is a prefix)."""


def _query(request: Request) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in (*FILTERS, "cursor"):
            raise BadParameter(name, f"unknown parameter; allowed are {', '.join(FILTERS)}, cursor")
        if name in values:
            raise BadParameter(name, "give it at most once")
        if "\x00" in value or len(value) > MAX_TEXT_PARAM_CHARS:
            raise BadParameter(name, f"at most {MAX_TEXT_PARAM_CHARS} characters, no NUL")
        if value.strip():
            values[name] = value.strip()
    return values


class AuditPages:
    """The audit page.

    Args:
        store: a started store.
        pages: renders pages.
    """

    def __init__(self, store: Store, pages: Pages) -> None:
        self._store = store
        self._pages = pages

    def routes(self) -> list[BaseRoute]:
        return [Route("/audit", self.audit, methods=["GET"], include_in_schema=False)]

    async def audit(self, request: Request) -> Response:
        """One page of the audit log; with ``?app=``, shown as that app's tab."""
        query = _query(request)
        app = None if "app" not in query else parse_app(query["app"])
        outcome = query.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise BadParameter("outcome", f"one of {', '.join(OUTCOMES)}")
        flt = AuditFilter(
            app=app,
            actor=query.get("actor"),
            action=query.get("action"),
            target=query.get("target"),
            outcome=outcome,
        )
        cursor = query.get("cursor")
        try:
            async with self._store.sessionmaker.begin() as session:
                page = await list_audit(session, flt, limit=AUDIT_PAGE_SIZE, cursor=cursor)
        except ValueError:
            raise BadParameter("cursor", "not a cursor of this page: start again") from None
        form = {name: query[name] for name in FILTERS if name in query}
        context: dict[str, Any] = {
            "app": app,
            "tab": "audit",
            "form": form,
            "entries": [audit_entry_json(row) for row in page.entries],
            "outcomes": OUTCOMES,
            "action_hints": ACTION_HINTS,
            "first_page": form if cursor is not None else None,
            "next_page": {**form, "cursor": page.next_cursor} if page.next_cursor else None,
        }
        # Only the first page takes in new entries as they come.
        return self._pages.render(request, "audit.html", context, refresh=cursor is None)
