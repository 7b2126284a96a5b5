"""The dashboard's bulk actions: the preview and confirmation of one action on many workflows,
starting the job, and the jobs' pages (history, and one job's progress and outcomes).

Owns how the workflows list's selections become a ``management.bulk`` request: the rows an operator
ticked (``scope=selected``, posted: a page of ids is too long for a URL) or every workflow that
matches the list's filter (``scope=filter``, the filter's own query parameters). The confirmation
shows how many workflows match (``BulkJobs.preview``) and carries a fresh idempotency key, which
becomes the job's id: submitting it twice starts one job. Must not import the gateway, Faust or
Kafka.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.actors import ActorResolver, require_same_origin
from console.api.management_json import bulk_job_json, bulk_view_json
from console.dashboard.pages import Form, Pages, new_idempotency_key, read_form, see_other
from console.dashboard.templating import path_segment
from console.failures import error_status
from management.bulk import FILTER_FIELDS, BulkAction, BulkJobs, BulkSpec, parse_bulk_body
from management.operations import JsonBody
from management.outcomes import ActionFailed
from management.params import BadParameter, parse_app
from streams.ids import AppName

DASHBOARD_ACTIONS = (
    BulkAction.CANCEL,
    BulkAction.RESUME,
    BulkAction.RESTART,
    BulkAction.REWIND,
    BulkAction.DELETE,
)
ITEMS_PER_PAGE = 100
MAX_OFFSET_DIGITS = 9
_LABELS: dict[str, str] = {
    BulkAction.CANCEL.value: "Cancel",
    BulkAction.RESUME.value: "Resume",
    BulkAction.RESTART.value: "Restart",
    BulkAction.REWIND.value: "Rewind",
    BulkAction.DELETE.value: "Delete",
    BulkAction.FORK_FROM_FAILURE.value: "Fork from failure",
}
_RUNNING = "running"


def _bulk_action(value: str | None) -> BulkAction:
    try:
        action = BulkAction(value or "")
    except ValueError:
        action = None
    if action not in DASHBOARD_ACTIONS:
        allowed = ", ".join(a.value for a in DASHBOARD_ACTIONS)
        raise BadParameter("action", f"must be one of {allowed}")
    assert action is not None
    return action


def _selection(form: Form) -> dict[str, Any]:
    """The selection of a bulk form as ``management.bulk``'s JSON fields."""
    match form.get("scope"):
        case "selected":
            ids = form.all("workflow_id", strip=False)
            if not ids:
                raise BadParameter("workflow_id", "select at least one workflow in the list")
            return {"workflow_ids": ids}
        case "filter":
            flt: dict[str, Any] = {}
            for name in FILTER_FIELDS:
                values = form.all(name)
                if values:
                    flt[name] = values if name == "status" else values[0]
            return {"filter": flt}
        case _:
            raise BadParameter("scope", "must be selected or filter")


def _options(action: BulkAction, form: Form) -> dict[str, Any]:
    match action:
        case BulkAction.CANCEL:
            return {"cancel_children": form.flag("cancel_children")}
        case BulkAction.DELETE:
            return {"delete_children": form.flag("delete_children")}
        case BulkAction.RESUME:
            return {"queue_name": form.get("queue_name")}
        case _:
            return {}


def bulk_spec(form: Form) -> BulkSpec:
    """A bulk form (its action, selection and options) as a bulk request.

    Raises:
        BadParameter: a field is missing or malformed.
    """
    action = _bulk_action(form.get("action"))
    body = {"action": action.value, **_selection(form), **_options(action, form)}
    return parse_bulk_body(JsonBody(body))


class BulkPages:
    """Bulk confirmation, start, history and job pages.

    Args:
        pages: renders pages.
        bulk: previews, starts and reports jobs.
        actors: tells who acts.
    """

    def __init__(self, pages: Pages, bulk: BulkJobs, actors: ActorResolver) -> None:
        self._pages = pages
        self._bulk = bulk
        self._actors = actors

    def routes(self) -> list[BaseRoute]:
        bulk = "/apps/{app}/bulk"
        endpoints = [
            (f"{bulk}/new", self.confirm, ["GET", "POST"]),
            (bulk, self.start, ["POST"]),
            (bulk, self.history, ["GET"]),
            (f"{bulk}/{{job_id}}", self.job, ["GET"]),
        ]
        return [
            Route(path, endpoint, methods=methods, include_in_schema=False)
            for path, endpoint, methods in endpoints
        ]

    async def confirm(self, request: Request) -> Response:
        """How many workflows the action would touch, a sample, the options, Confirm and Back.

        A GET carries a filter selection; a POST (from the list's ticked rows) a list of ids.
        """
        app = parse_app(request.path_params["app"])
        if request.method == "POST":
            require_same_origin(request)
            form = await read_form(request)
        else:
            form = Form(request.query_params.multi_items())
        return await self._confirmation(request, app, form)

    async def start(self, request: Request) -> Response:
        """Start a confirmed bulk job, then show it."""
        require_same_origin(request)
        app = parse_app(request.path_params["app"])
        form = await read_form(request)
        actor = await self._actors.actor(request)
        try:
            spec = bulk_spec(form)
            view, _ = await self._bulk.start(
                app, spec, actor=actor, idempotency_key=form.get("idempotency_key")
            )
        except (BadParameter, ActionFailed) as exc:
            return await self._confirmation(request, app, form, error=exc)
        return see_other(f"/apps/{path_segment(app)}/bulk/{path_segment(view.job.job_id)}")

    async def history(self, request: Request) -> Response:
        """An app's bulk jobs, newest first; refreshes while one runs."""
        app = parse_app(request.path_params["app"])
        jobs = [bulk_job_json(job, []) for job in await self._bulk.history(app)]
        context = {"app": app, "tab": "bulk", "jobs": jobs}
        running = any(job["state"] == _RUNNING for job in jobs)
        return self._pages.render(request, "bulk_jobs.html", context, refresh=running)

    async def job(self, request: Request) -> Response:
        """One job: its state, progress and a page of per-workflow outcomes; refreshes while it
        runs."""
        app = parse_app(request.path_params["app"])
        job_id = request.path_params["job_id"]
        offset = _offset(request.query_params.get("offset"))
        view = await self._bulk.get(app, job_id[:64], items=ITEMS_PER_PAGE, offset=offset)
        if view is None:
            raise HTTPException(404, f"no bulk job {job_id[:64]!r} in app {app!r}")
        job = bulk_view_json(view)
        shown = len(job["items"])
        paging = {
            "prev": {"offset": max(0, offset - ITEMS_PER_PAGE)} if offset else None,
            "next": {"offset": offset + ITEMS_PER_PAGE}
            if offset + ITEMS_PER_PAGE < job["total"]
            else None,
            "first": offset + 1,
            "last": offset + shown,
            "total": job["total"],
        }
        context = {
            "app": app,
            "tab": "bulk",
            "job": job,
            "label": _LABELS.get(job["action"], job["action"]),
            "paging": paging,
        }
        return self._pages.render(
            request, "bulk_job.html", context, refresh=job["state"] == _RUNNING
        )

    async def _confirmation(
        self, request: Request, app: AppName, form: Form, *, error: Exception | None = None
    ) -> Response:
        preview = None
        action: BulkAction | None = None
        try:
            action = _bulk_action(form.get("action"))
            preview = await self._bulk.preview(app, bulk_spec(form))
        except BadParameter as exc:
            error = error or exc
        context = {
            "app": app,
            "tab": "workflows",
            "action": action,
            "label": None if action is None else _LABELS[action.value],
            "scope": form.get("scope"),
            "workflow_ids": form.all("workflow_id", strip=False),
            "filter_items": form.items(FILTER_FIELDS),
            "preview": preview,
            "options": {
                "cancel_children": form.flag("cancel_children"),
                "delete_children": form.flag("delete_children"),
                "queue_name": form.get("queue_name") or "",
            },
            "idempotency_key": new_idempotency_key(),
            "error": None if error is None else str(error),
        }
        return self._pages.render(
            request, "bulk_confirm.html", context, refresh=False, status_code=error_status(error)
        )


def _offset(value: str | None) -> int:
    if value is None or value == "":
        return 0
    if not value.isascii() or not value.isdigit() or len(value) > MAX_OFFSET_DIGITS:
        raise BadParameter("offset", "an integer from 0 to 999999999")
    return int(value)
