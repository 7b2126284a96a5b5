"""The console's dashboard: server-rendered HTML pages over the same reads as the JSON API, and
the operator's actions.

Owns the read-only pages (overview, executors, workflows, one workflow, queues, recoveries) and the
composition of the others: actions on one workflow (``console.dashboard.actions``), schedules and
versions (``console.dashboard.schedules``), bulk jobs (``console.dashboard.bulk``) and the audit
log (``console.dashboard.audit``); actions share ``console.dashboard.confirmation``, live reads
``console.dashboard.live_lists``. Every page has a live-refresh region
(``console.dashboard.pages``); the refresh interval comes from ``create_app`` and is off when it is
zero. Pages are escaped by the template environment (``console.dashboard.templating``) and carry a
strict Content-Security-Policy: no inline script or style. Must not import the gateway, Faust or
Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console import listing
from console.access.identity import payloads_withheld
from console.actors import ActorResolver
from console.dashboard.action_forms import workflow_buttons
from console.dashboard.actions import CONFIRM_SUFFIX, WorkflowActionPages
from console.dashboard.audit import AuditPages
from console.dashboard.bulk import DASHBOARD_ACTIONS, BulkPages
from console.dashboard.confirmation import ConfirmFlow
from console.dashboard.live_lists import LiveLists
from console.dashboard.pages import PAGE_HEADERS, Pages, error_page
from console.dashboard.schedules import SchedulePages
from console.detail import DEFAULT_LIVE_TIMEOUT_S, WorkflowLookup
from console.failures import unknown_workflow
from console.serialize import executor_json, recovery_json, status_counts, step_duration_ms
from management.actions import Actions
from management.bulk import FILTER_FIELDS, BulkJobs
from management.params import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    SORT_VALUES,
    STATUS_VALUES,
    parse_app,
    parse_queued_query,
    parse_workflow_path,
    parse_workflow_query,
)
from runtime.clock import wall_ms
from store.database import Store
from streams.ids import WorkflowId
from streams.records import ACTIVE_STATES, StepInfo

__all__ = ["PAGE_HEADERS", "Dashboard", "error_page"]

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
_FLASH_PARAM = "done"
"""Set by the redirect after an action: the audited action to show."""


class Dashboard:
    """The HTML pages.

    Args:
        store: a started store.
        lookup: answers workflow detail and steps, live first.
        env: the template environment (``console.dashboard.templating.build_environment``).
        refresh_interval_s: how often a page refreshes its live region; ``<= 0``: never.
        actions: carries out operators' actions and asks executors (schedules, versions, a
            workflow's events, notifications and streams).
        bulk: bulk jobs.
        actors: tells who acts.
        live_timeout_s: how long a page waits for an executor's answer to a read.
    """

    def __init__(
        self,
        store: Store,
        lookup: WorkflowLookup,
        env: jinja2.Environment,
        *,
        refresh_interval_s: float,
        actions: Actions,
        bulk: BulkJobs,
        actors: ActorResolver,
        live_timeout_s: float = DEFAULT_LIVE_TIMEOUT_S,
    ) -> None:
        self._store = store
        self._lookup = lookup
        self._pages = Pages(env, refresh_interval_s=refresh_interval_s)
        self._flow = ConfirmFlow(store, self._pages, actions, actors)
        self._live = LiveLists(actions, live_timeout_s=live_timeout_s)
        self._workflow_actions = WorkflowActionPages(store, self._flow, actions)
        self._schedules = SchedulePages(self._pages, self._flow, self._live)
        self._bulk = BulkPages(self._pages, bulk, actors)
        self._audit = AuditPages(store, self._pages)

    @property
    def pages(self) -> Pages:
        """The page renderer, for other page routes (sign-in)."""
        return self._pages

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
            # Before the workflow page, whose {workflow_id:path} matches any tail.
            *self._workflow_actions.routes(),
            *self._schedules.routes(),
            *self._bulk.routes(),
            *self._audit.routes(),
            *(
                Route(path, endpoint, methods=["GET"], include_in_schema=False)
                for path, endpoint in pages
            ),
        ]

    async def overview(self, request: Request) -> Response:
        """Every app: executors by state and stored workflows."""
        apps = await listing.read_apps(self._store)
        return self._pages.render(
            request, "overview.html", {"apps": apps, "app": None, "tab": None}
        )

    async def executors(self, request: Request) -> Response:
        """An app's executors, with the time since each one's last heartbeat."""
        app = parse_app(request.path_params["app"])
        rows = await listing.read_executors(self._store, app)
        executors = [
            {**executor_json(row), "last_seen_ms": int(row.seen_at.timestamp() * 1000)}
            for row in rows
        ]
        return self._pages.render(
            request,
            "executors.html",
            {"app": app, "tab": "executors", "executors": executors, "now_ms": wall_ms()},
        )

    async def workflows(self, request: Request) -> Response:
        """An app's workflows: the filter form, status tabs, one page of rows, paging."""
        app = parse_app(request.path_params["app"])
        items = [(k, v) for k, v in request.query_params.multi_items() if k != _FLASH_PARAM]
        query = parse_workflow_query(items)
        withheld = payloads_withheld(request)
        result = await listing.read_workflows(self._store, app, query, withheld=withheld)
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
            "payloads_hidden": result.payloads_hidden is not None,
            "payloads_hidden_note": result.payloads_hidden,
            "tabs": _status_tabs(form, selected, counts),
            "paging": {
                **_paging(form, selected, query.limit, query.offset, query.cursor, result),
                "total": total,
            },
            "status_values": STATUS_VALUES,
            "sort_values": SORT_VALUES,
            "limit_choices": LIMIT_CHOICES,
            "default_limit": DEFAULT_LIMIT,
            "bulk_actions": DASHBOARD_ACTIONS,
            # "All matching" needs a filter: an empty one would select every workflow.
            "bulk_filter": [(k, v) for k, v in items if k in FILTER_FIELDS and v.strip()],
            "flash": await self._flow.flash(app, request.query_params.get(_FLASH_PARAM)),
        }
        return self._pages.render(request, "workflows.html", context)

    async def workflow(self, request: Request) -> Response:
        """One workflow: its fields, inputs, output, error, children, steps timeline, events,
        notifications and streams, and the actions on it."""
        app, workflow_id = parse_workflow_path(request.path_params)
        confirming = len(workflow_id) > len(CONFIRM_SUFFIX) and "action" in request.query_params
        if confirming and workflow_id.endswith(CONFIRM_SUFFIX):
            target = WorkflowId(workflow_id.removesuffix(CONFIRM_SUFFIX))
            return await self._workflow_actions.confirm_workflow(request, app, target)
        withheld = payloads_withheld(request)
        async with asyncio.TaskGroup() as tasks:
            workflow_task = tasks.create_task(
                self._lookup.workflow(app, workflow_id, withheld=withheld)
            )
            steps_task = tasks.create_task(self._lookup.steps(app, workflow_id, withheld=withheld))
            talk_task = tasks.create_task(
                self._live.communication(app, workflow_id, withheld=withheld)
            )
            flash_task = tasks.create_task(
                self._flow.flash(app, request.query_params.get(_FLASH_PARAM))
            )
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
            "communication": talk_task.result(),
            "buttons": workflow_buttons(view.status.status),
            "flash": flash_task.result(),
            "payloads_hidden_note": view.payloads_hidden
            or (steps.payloads_hidden if steps else None),
        }
        # A finished workflow does not change: refreshing it would only cost executors requests.
        refresh = view.status.status in ACTIVE_STATES
        return self._pages.render(request, "workflow.html", context, refresh=refresh)

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
        return self._pages.render(request, "queues.html", context)

    async def recoveries(self, request: Request) -> Response:
        """An app's most recent recoveries of dead executors."""
        app = parse_app(request.path_params["app"])
        rows = await listing.read_recoveries(self._store, app)
        context = {
            "app": app,
            "tab": "recoveries",
            "recoveries": [recovery_json(row) for row in rows],
        }
        return self._pages.render(request, "recoveries.html", context)


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
