"""The console's dashboard: server-rendered HTML pages over the same reads as the JSON API.

Owns the page routes, what each page shows and its live-refresh region. A request with the
``X-Baton-Partial: live`` header (sent by ``static/console.js``) gets only the page's ``live``
block, which the script swaps in place; the refresh interval comes from ``create_app`` and is off
when it is zero. Pages are escaped by the template environment (``console.templating``) and carry
a strict Content-Security-Policy: no inline script or style. Must not import the gateway, Faust or
Kafka.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from console import listing
from console.detail import WorkflowLookup
from console.params import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    SORT_VALUES,
    STATUS_VALUES,
    parse_app,
    parse_queued_query,
    parse_workflow_path,
    parse_workflow_query,
    unknown_workflow,
)
from console.serialize import executor_json, recovery_json, status_counts, step_duration_ms
from console.templating import render_page, render_region
from store.database import Store
from streams.records import ACTIVE_STATES, StepInfo

PARTIAL_HEADER = "X-Baton-Partial"
"""Header naming the block to render alone (``live``)."""
LIVE_BLOCK = "live"

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

LIMIT_CHOICES = (20, 50, 100, 200, MAX_LIMIT)
_FORM_FIELDS = (
    "name",
    "workflow_id_prefix",
    "queue",
    "application_version",
    "executor_id",
    "created_after",
    "created_before",
    "limit",
    "sort",
)


def error_page(env: jinja2.Environment, status_code: int, message: str) -> Response:
    """An HTML error page (the message is escaped like everything else)."""
    body = render_page(
        env,
        "error.html",
        {"status_code": status_code, "message": message, "app": None, "tab": None, **_no_live()},
    )
    return HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)


def _no_live() -> dict[str, Any]:
    return {"refresh_ms": 0}


class Dashboard:
    """The HTML pages.

    Args:
        store: a started store.
        lookup: answers workflow detail and steps, live first.
        env: the template environment (``console.templating.build_environment``).
        refresh_interval_s: how often a page refreshes its live region; ``<= 0``: never.
    """

    def __init__(
        self,
        store: Store,
        lookup: WorkflowLookup,
        env: jinja2.Environment,
        *,
        refresh_interval_s: float,
    ) -> None:
        self._store = store
        self._lookup = lookup
        self._env = env
        self._refresh_ms = max(0, round(refresh_interval_s * 1000))

    def routes(self) -> list[BaseRoute]:
        """The pages' routes; none of them is in the OpenAPI document."""
        pages = [
            ("/", self.overview),
            ("/apps/{app}", self.executors),
            ("/apps/{app}/workflows", self.workflows),
            ("/apps/{app}/workflows/{workflow_id:path}", self.workflow),
            ("/apps/{app}/queues", self.queues),
            ("/apps/{app}/recoveries", self.recoveries),
        ]
        return [
            Route(path, endpoint, methods=["GET"], include_in_schema=False)
            for path, endpoint in pages
        ]

    async def overview(self, request: Request) -> Response:
        """Every app: executors by state and stored workflows."""
        apps = await listing.read_apps(self._store)
        return self._render(request, "overview.html", {"apps": apps, "app": None, "tab": None})

    async def executors(self, request: Request) -> Response:
        """An app's executors, with the time since each one's last heartbeat."""
        app = parse_app(request.path_params["app"])
        rows = await listing.read_executors(self._store, app)
        executors = [
            {**executor_json(row), "last_seen_ms": int(row.last_seen.timestamp() * 1000)}
            for row in rows
        ]
        return self._render(
            request,
            "executors.html",
            {"app": app, "tab": "executors", "executors": executors, "now_ms": _now_ms()},
        )

    async def workflows(self, request: Request) -> Response:
        """An app's workflows: the filter form, status tabs, one page of rows, paging."""
        app = parse_app(request.path_params["app"])
        items = request.query_params.multi_items()
        query = parse_workflow_query(items)
        result = await listing.read_workflows(self._store, app, query)
        counts = status_counts(result.counts)
        selected = query.flt.statuses
        total = sum(counts[s] for s in selected) if selected else sum(counts.values())
        form = {key: value for key, value in items if key in _FORM_FIELDS and value}
        context = {
            "app": app,
            "tab": "workflows",
            "form": form,
            "selected": selected,
            "counts": counts,
            "total": total,
            "query": query,
            "workflows": result.workflows,
            "tabs": _status_tabs(form, selected, counts),
            "paging": {
                **_paging(form, selected, query.limit, query.offset, query.cursor, result),
                "total": total,
            },
            "status_values": STATUS_VALUES,
            "sort_values": SORT_VALUES,
            "limit_choices": LIMIT_CHOICES,
            "default_limit": DEFAULT_LIMIT,
        }
        return self._render(request, "workflows.html", context)

    async def workflow(self, request: Request) -> Response:
        """One workflow: its fields, inputs, output, error, children and steps timeline."""
        app, workflow_id = parse_workflow_path(request.path_params)
        async with asyncio.TaskGroup() as tasks:
            workflow_task = tasks.create_task(self._lookup.workflow(app, workflow_id))
            steps_task = tasks.create_task(self._lookup.steps(app, workflow_id))
        view, steps = workflow_task.result(), steps_task.result()
        if view is None:
            raise unknown_workflow(app, workflow_id)
        context = {
            "app": app,
            "tab": "workflows",
            "view": view,
            "wf": view.status,
            "steps_view": steps,
            "timeline": _timeline(view.status.created_at_ms, steps.steps if steps else ()),
        }
        # A finished workflow does not change: refreshing it would only cost executors requests.
        refresh = view.status.status in ACTIVE_STATES
        return self._render(request, "workflow.html", context, refresh=refresh)

    async def queues(self, request: Request) -> Response:
        """An app's queues with their counts, and one page of queued workflows."""
        app = parse_app(request.path_params["app"])
        query = parse_queued_query(request.query_params.multi_items())
        queues = await listing.read_queues(self._store, app)
        queued = await listing.read_queued(self._store, app, query)
        base = {"queue": query.queue_name, "limit": query.limit}
        paging = {
            "prev": {**base, "offset": max(0, query.offset - query.limit)}
            if query.offset
            else None,
            "next": {**base, "offset": query.offset + query.limit}
            if len(queued) == query.limit
            else None,
            "first": query.offset + 1,
            "last": query.offset + len(queued),
        }
        context = {
            "app": app,
            "tab": "queues",
            "queues": queues,
            "queued": queued,
            "selected_queue": query.queue_name,
            "paging": paging,
        }
        return self._render(request, "queues.html", context)

    async def recoveries(self, request: Request) -> Response:
        """An app's most recent recoveries of dead executors."""
        app = parse_app(request.path_params["app"])
        rows = await listing.read_recoveries(self._store, app)
        context = {
            "app": app,
            "tab": "recoveries",
            "recoveries": [recovery_json(row) for row in rows],
        }
        return self._render(request, "recoveries.html", context)

    def _render(
        self, request: Request, name: str, context: Mapping[str, Any], *, refresh: bool = True
    ) -> Response:
        full = {**context, "refresh_ms": self._refresh_ms if refresh else 0}
        if request.headers.get(PARTIAL_HEADER) == LIVE_BLOCK:
            body = render_region(self._env, name, LIVE_BLOCK, full)
        else:
            body = render_page(self._env, name, full)
        return HTMLResponse(body, headers=PAGE_HEADERS)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _status_tabs(
    form: Mapping[str, str], selected: tuple[str, ...], counts: Mapping[str, int]
) -> list[dict[str, Any]]:
    """ "All" and one tab per status: the same filters with that status, from the first page."""
    base = dict(form)
    tabs = [
        {
            "key": "all",
            "label": "All",
            "count": sum(counts.values()),
            "params": base,
            "current": not selected,
        }
    ]
    tabs.extend(
        {
            "key": status.lower(),
            "label": status.replace("_", " ").capitalize(),
            "count": n,
            "params": {**base, "status": status},
            "current": selected == (status,),
        }
        for status, n in counts.items()
    )
    return tabs


def _paging(
    form: Mapping[str, str],
    selected: tuple[str, ...],
    limit: int,
    offset: int,
    cursor: str | None,
    result: listing.WorkflowListing,
) -> dict[str, Any]:
    """Query parameters of the previous and next pages (None when there is none)."""
    base = {**form, "status": list(selected)}
    more = result.next_cursor is not None
    if cursor is not None:
        # A cursor page (from the API, or a bookmark) continues by cursor; it has no "previous".
        following = {**base, "cursor": result.next_cursor} if more else None
        return {"prev": None, "next": following, "first": None, "last": None}
    return {
        "prev": {**base, "offset": max(0, offset - limit)} if offset else None,
        "next": {**base, "offset": offset + limit} if more else None,
        "first": offset + 1,
        "last": offset + len(result.workflows),
    }


def _timeline(start_ms: int | None, steps: tuple[StepInfo, ...]) -> list[dict[str, Any]]:
    """Each step with its bar on a 0..1000 scale from the workflow's start to the last step end."""
    starts = [s.started_at_ms for s in steps if s.started_at_ms is not None]
    ends = [s.completed_at_ms or s.started_at_ms for s in steps if s.started_at_ms is not None]
    origin = min([*starts, *([start_ms] if start_ms is not None else [])], default=0)
    span = max(1, max((e for e in ends if e is not None), default=origin) - origin)
    rows = []
    for step in steps:
        bar = None
        if step.started_at_ms is not None:
            end = step.completed_at_ms or step.started_at_ms
            x = min(996, round((step.started_at_ms - origin) * 1000 / span))
            width = round((end - step.started_at_ms) * 1000 / span)
            bar = {"x": x, "width": max(4, min(1000 - x, width))}
        rows.append({"step": step, "duration_ms": step_duration_ms(step), "bar": bar})
    return rows
