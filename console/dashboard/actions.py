"""The dashboard's actions on one thing: a workflow, a schedule, an application version; and the
pages that read live from an executor (schedules, versions, a workflow's communication).

Owns the confirm-then-act flow: a GET confirmation page (it works without JavaScript) holds a form
with a fresh idempotency key, so submitting it twice acts once; its POST checks that it comes from
the console's own pages (``console.actors.require_same_origin``), tells the actor, runs the action
through ``management.actions.Actions`` and redirects (303) to the page it concerns with
``?done=<action id>``; that page then shows the audited outcome. A failed action shows the
confirmation again with the (escaped) error and the failure's HTTP status. Live reads are bounded
by the console's live timeout: when no executor answers, the page says so. Must not import the
gateway, Faust or Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.actors import ActorResolver, require_same_origin
from console.dashboard.action_forms import (
    LATEST_VERB,
    SCHEDULE_VERBS,
    WORKFLOW_VERBS,
    FormField,
    Verb,
    body_of,
    schedule_fields,
    workflow_fields,
)
from console.dashboard.pages import Form, Pages, new_idempotency_key, read_form, see_other
from console.dashboard.templating import path_segment
from console.failures import error_status
from management.actions import Actions
from management.idempotency import check_idempotency_key
from management.operations import (
    JsonBody,
    Operation,
    ScheduleAction,
    WorkflowAction,
    schedule_operation,
    set_latest_version_operation,
    workflow_operation,
)
from management.outcomes import ActionFailed
from management.params import BadParameter, parse_app, parse_workflow_path
from store.audit import find_action
from store.database import Store
from store.workflow_queries import get_workflow
from streams.ids import AppName, WorkflowId
from streams.records import OperatorAction, RequestKind

CONFIRM_SUFFIX = "/confirm"
"""``/apps/{app}/workflows/{id}/confirm?action=...`` is the confirmation of an action on ``id``."""
MAX_SCHEDULE_NAME_CHARS = 256
_VERSIONED = (WorkflowAction.RESUME, WorkflowAction.RESTART, WorkflowAction.FORK)
_Action = TypeVar("_Action", WorkflowAction, ScheduleAction)


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveList:
    """A list read live from an executor, or why there is none."""

    items: list[Mapping[str, Any]] | None
    error: str | None


def _choice(kind: type[_Action], value: str | None) -> _Action:
    try:
        return kind(value or "")
    except ValueError:
        allowed = ", ".join(a.value for a in kind)
        raise HTTPException(404, f"unknown action; use {allowed}") from None


def _schedule_name(value: str) -> str:
    if not 1 <= len(value) <= MAX_SCHEDULE_NAME_CHARS or "\x00" in value:
        raise BadParameter("schedule_name", f"1 to {MAX_SCHEDULE_NAME_CHARS} characters")
    return value


class ActionPages:
    """Confirmation pages, the form posts that act, and the live schedules and versions pages.

    Args:
        store: a started store (workflows to describe, audited outcomes to show).
        pages: renders pages.
        actions: carries out and audits actions, and asks executors.
        actors: tells who acts.
        live_timeout_s: how long a page waits for an executor's answer to a read.
    """

    def __init__(
        self,
        store: Store,
        pages: Pages,
        actions: Actions,
        actors: ActorResolver,
        *,
        live_timeout_s: float,
    ) -> None:
        self._store = store
        self._pages = pages
        self._actions = actions
        self._actors = actors
        self._live_timeout_s = live_timeout_s

    def routes(self) -> list[BaseRoute]:
        """The form posts and pages (the workflow confirmation is reached through the detail
        page's route, whose ``{workflow_id:path}`` would otherwise swallow it)."""
        app = "/apps/{app}"
        schedule = f"{app}/schedules/{{schedule_name:path}}"
        endpoints = [
            (
                f"{app}/workflows/{{workflow_id:path}}/actions/{{action}}",
                self.act_on_workflow,
                "POST",
            ),
            (f"{app}/schedules", self.schedules, "GET"),
            (f"{schedule}/confirm", self.confirm_schedule, "GET"),
            (f"{schedule}/actions/{{action}}", self.act_on_schedule, "POST"),
            (f"{app}/versions", self.versions, "GET"),
            (f"{app}/versions/confirm", self.confirm_version, "GET"),
            (f"{app}/versions/latest", self.set_latest_version, "POST"),
        ]
        return [
            Route(path, endpoint, methods=[method], include_in_schema=False)
            for path, endpoint, method in endpoints
        ]

    # -- one workflow ---------------------------------------------------------------------------

    async def confirm_workflow(
        self, request: Request, app: AppName, workflow_id: WorkflowId
    ) -> Response:
        """``Cancel workflow X?``: the options, Confirm and Back."""
        action = _choice(WorkflowAction, request.query_params.get("action"))
        return await self._workflow_confirmation(
            request, app, workflow_id, action, Form(request.query_params.multi_items())
        )

    async def act_on_workflow(self, request: Request) -> Response:
        """Carry out a confirmed action on one workflow, then show its outcome."""
        require_same_origin(request)
        app, workflow_id = parse_workflow_path(request.path_params)
        action = _choice(WorkflowAction, request.path_params["action"])
        form = await read_form(request)
        actor = await self._actors.actor(request)
        try:
            version = None
            if action in _VERSIONED:
                version = await self._actions.version_of(app, workflow_id)
            body = body_of(workflow_fields(action), form)
            operation = workflow_operation(action, workflow_id, body, stored_version=version)
            record = await self._run(app, operation, actor, form)
        except (BadParameter, ActionFailed) as exc:
            return await self._workflow_confirmation(
                request, app, workflow_id, action, form, error=exc
            )
        base = f"/apps/{path_segment(app)}/workflows"
        if action is WorkflowAction.DELETE:
            return see_other(f"{base}?done={record.action_id}")
        return see_other(f"{base}/{path_segment(workflow_id)}?done={record.action_id}")

    async def _workflow_confirmation(
        self,
        request: Request,
        app: AppName,
        workflow_id: WorkflowId,
        action: WorkflowAction,
        form: Form,
        *,
        error: Exception | None = None,
    ) -> Response:
        async with self._store.sessionmaker.begin() as session:
            row = await get_workflow(session, app, workflow_id)
        details = (
            []
            if row is None
            else [
                ("Status", row.status),
                ("Name", row.name or "\u2014"),
                ("Version", row.application_version or "\u2014"),
            ]
        )
        detail_url = f"/apps/{path_segment(app)}/workflows/{path_segment(workflow_id)}"
        return self._confirmation(
            request,
            app=app,
            tab="workflows",
            verb=WORKFLOW_VERBS[action],
            question=(f"{WORKFLOW_VERBS[action].label} workflow", workflow_id, "?"),
            details=details,
            fields=workflow_fields(action),
            form=form,
            post_url=f"{detail_url}/actions/{action.value}",
            back_url=detail_url,
            error=error,
        )

    # -- schedules ------------------------------------------------------------------------------

    async def schedules(self, request: Request) -> Response:
        """An app's schedules, asked of a live executor, with their actions."""
        app = parse_app(request.path_params["app"])
        listed = await self.live_list(app, RequestKind.LIST_SCHEDULES, "schedules")
        context = {
            "app": app,
            "tab": "schedules",
            "listed": listed,
            "flash": await self.flash(app, request.query_params.get("done")),
        }
        return self._pages.render(request, "schedules.html", context, refresh=False)

    async def confirm_schedule(self, request: Request) -> Response:
        """``Pause schedule X?``."""
        app = parse_app(request.path_params["app"])
        name = _schedule_name(request.path_params["schedule_name"])
        action = _choice(ScheduleAction, request.query_params.get("action"))
        return self._schedule_confirmation(
            request, app, name, action, Form(request.query_params.multi_items())
        )

    async def act_on_schedule(self, request: Request) -> Response:
        """Carry out a confirmed action on a schedule, then show its outcome."""
        require_same_origin(request)
        app = parse_app(request.path_params["app"])
        name = _schedule_name(request.path_params["schedule_name"])
        action = _choice(ScheduleAction, request.path_params["action"])
        form = await read_form(request)
        actor = await self._actors.actor(request)
        try:
            body = body_of(schedule_fields(action), form)
            record = await self._run(app, schedule_operation(action, name, body), actor, form)
        except (BadParameter, ActionFailed) as exc:
            return self._schedule_confirmation(request, app, name, action, form, error=exc)
        return see_other(f"/apps/{path_segment(app)}/schedules?done={record.action_id}")

    def _schedule_confirmation(
        self,
        request: Request,
        app: AppName,
        name: str,
        action: ScheduleAction,
        form: Form,
        *,
        error: Exception | None = None,
    ) -> Response:
        schedules_url = f"/apps/{path_segment(app)}/schedules"
        return self._confirmation(
            request,
            app=app,
            tab="schedules",
            verb=SCHEDULE_VERBS[action],
            question=(f"{SCHEDULE_VERBS[action].label} schedule", name, "?"),
            details=[],
            fields=schedule_fields(action),
            form=form,
            post_url=f"{schedules_url}/{path_segment(name)}/actions/{action.value}",
            back_url=schedules_url,
            error=error,
        )

    # -- application versions -------------------------------------------------------------------

    async def versions(self, request: Request) -> Response:
        """An app's application versions, asked of a live executor; the latest is marked."""
        app = parse_app(request.path_params["app"])
        listed = await self.live_list(app, RequestKind.LIST_VERSIONS, "versions")
        latest = None
        if listed.items:
            stamps = [v.get("version_timestamp") for v in listed.items]
            known = [s for s in stamps if isinstance(s, int)]
            latest = stamps.index(max(known)) if known else 0
        context = {
            "app": app,
            "tab": "versions",
            "listed": listed,
            "latest_index": latest,
            "flash": await self.flash(app, request.query_params.get("done")),
        }
        return self._pages.render(request, "versions.html", context, refresh=False)

    async def confirm_version(self, request: Request) -> Response:
        """``Make version X the latest?``."""
        app = parse_app(request.path_params["app"])
        form = Form(request.query_params.multi_items())
        return self._version_confirmation(request, app, form)

    async def set_latest_version(self, request: Request) -> Response:
        """Make a version the latest, then show the outcome."""
        require_same_origin(request)
        app = parse_app(request.path_params["app"])
        form = await read_form(request)
        actor = await self._actors.actor(request)
        try:
            body = JsonBody({"version_name": form.get("version_name")})
            record = await self._run(app, set_latest_version_operation(body), actor, form)
        except (BadParameter, ActionFailed) as exc:
            return self._version_confirmation(request, app, form, error=exc)
        return see_other(f"/apps/{path_segment(app)}/versions?done={record.action_id}")

    def _version_confirmation(
        self, request: Request, app: AppName, form: Form, *, error: Exception | None = None
    ) -> Response:
        name = form.get("version_name")
        if name is None:
            raise BadParameter("version_name", "is required")
        versions_url = f"/apps/{path_segment(app)}/versions"
        return self._confirmation(
            request,
            app=app,
            tab="versions",
            verb=LATEST_VERB,
            question=("Make version", name, " the latest?"),
            details=[],
            fields=[],
            form=form,
            post_url=f"{versions_url}/latest",
            back_url=versions_url,
            error=error,
            hidden={"version_name": name},
        )

    # -- shared ---------------------------------------------------------------------------------

    async def _run(
        self, app: AppName, operation: Operation, actor: str, form: Form
    ) -> OperatorAction:
        key = form.get("idempotency_key")
        result = await self._actions.run(app, operation, actor=actor, idempotency_key=key)
        return result.record

    def _confirmation(
        self,
        request: Request,
        *,
        app: AppName,
        tab: str,
        verb: Verb,
        question: tuple[str, str, str],
        details: list[tuple[str, str]],
        fields: list[FormField],
        form: Form,
        post_url: str,
        back_url: str,
        error: Exception | None,
        hidden: Mapping[str, str] | None = None,
    ) -> Response:
        values = {f.name: form.get(f.name) or f.default for f in fields}
        checked = {f.name for f in fields if f.kind == "checkbox" and form.flag(f.name)}
        context = {
            "app": app,
            "tab": tab,
            "verb": verb,
            "question": question,
            "details": details,
            "fields": fields,
            "values": values,
            "checked": checked,
            "hidden": dict(hidden or {}),
            "post_url": post_url,
            "back_url": back_url,
            # A new key for every showing: after a failure, confirming again is a new attempt.
            "idempotency_key": new_idempotency_key(),
            "error": None if error is None else str(error),
        }
        return self._pages.render(
            request, "confirm.html", context, refresh=False, status_code=error_status(error)
        )

    async def flash(self, app: AppName, key: str | None) -> OperatorAction | None:
        """The audited action a redirect after a form post names (``?done=``), if it is there."""
        if key is None:
            return None
        try:
            check_idempotency_key(key)
        except ActionFailed:
            return None
        async with self._store.sessionmaker.begin() as session:
            return await find_action(session, app, key)

    async def live_list(
        self, app: AppName, kind: RequestKind, key: str, workflow_id: str = ""
    ) -> LiveList:
        """The list ``key`` of a live executor's answer, or why there is none (within the live
        timeout)."""
        try:
            async with asyncio.timeout(self._live_timeout_s):
                answer = await self._actions.query(app, kind, workflow_id)
        except ActionFailed as exc:
            return LiveList(items=None, error=str(exc))
        except TimeoutError:
            return LiveList(
                items=None,
                error=f"no executor of app {app} answered within {self._live_timeout_s:g} s",
            )
        items = answer.get(key) if isinstance(answer, dict) else None
        if not isinstance(items, list):
            return LiveList(items=None, error=f"the executor's answer had no {key}")
        return LiveList(items=[item for item in items if isinstance(item, dict)], error=None)
