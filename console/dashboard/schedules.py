"""The dashboard's schedules and application versions: their pages, read live from an executor,
and their actions (pause, resume, trigger or backfill a schedule; make a version the latest).

Owns these pages and the confirmations and form posts of their actions, through the
confirm-then-act flow of ``console.dashboard.confirmation``. Must not import the gateway, Faust or
Kafka.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.actors import require_same_origin
from console.dashboard.action_forms import LATEST_VERB, SCHEDULE_VERBS, body_of, schedule_fields
from console.dashboard.confirmation import Confirmation, ConfirmFlow, choice
from console.dashboard.live_lists import LiveList, LiveLists
from console.dashboard.pages import Form, Pages
from console.dashboard.templating import path_segment
from management.operations import (
    JsonBody,
    Operation,
    ScheduleAction,
    schedule_operation,
    set_latest_version_operation,
)
from management.params import BadParameter, parse_app
from streams.ids import AppName
from streams.records import RequestKind

MAX_SCHEDULE_NAME_CHARS = 256


def _schedule_name(value: str) -> str:
    if not 1 <= len(value) <= MAX_SCHEDULE_NAME_CHARS or "\x00" in value:
        raise BadParameter("schedule_name", f"1 to {MAX_SCHEDULE_NAME_CHARS} characters")
    return value


class SchedulePages:
    """The schedules and versions pages, and the actions on them.

    Args:
        pages: renders pages.
        flow: the confirm-then-act flow.
        live: reads lists of a live executor.
    """

    def __init__(self, pages: Pages, flow: ConfirmFlow, live: LiveLists) -> None:
        self._pages = pages
        self._flow = flow
        self._live = live

    def routes(self) -> list[BaseRoute]:
        app = "/apps/{app}"
        schedule = f"{app}/schedules/{{schedule_name:path}}"
        endpoints = [
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

    # -- schedules ------------------------------------------------------------------------------

    async def schedules(self, request: Request) -> Response:
        """An app's schedules, asked of a live executor, with their actions."""
        return await self._live_page(request, RequestKind.LIST_SCHEDULES, "schedules")

    async def confirm_schedule(self, request: Request) -> Response:
        """``Pause schedule X?``."""
        app = parse_app(request.path_params["app"])
        name = _schedule_name(request.path_params["schedule_name"])
        action = choice(ScheduleAction, request.query_params.get("action"))
        form = Form(request.query_params.multi_items())
        return self._flow.show(request, _schedule_confirmation(app, name, action), form)

    async def act_on_schedule(self, request: Request) -> Response:
        """Carry out a confirmed action on a schedule, then show its outcome."""
        require_same_origin(request)
        app = parse_app(request.path_params["app"])
        name = _schedule_name(request.path_params["schedule_name"])
        action = choice(ScheduleAction, request.path_params["action"])

        async def operation(form: Form) -> Operation:
            return schedule_operation(action, name, body_of(schedule_fields(action), form))

        async def describe(form: Form) -> Confirmation:
            return _schedule_confirmation(app, name, action)

        return await self._flow.act(
            request,
            app,
            operation=operation,
            describe=describe,
            done_url=f"/apps/{path_segment(app)}/schedules",
        )

    # -- application versions -------------------------------------------------------------------

    async def versions(self, request: Request) -> Response:
        """An app's application versions, asked of a live executor; the latest is marked."""
        return await self._live_page(
            request,
            RequestKind.LIST_VERSIONS,
            "versions",
            lambda listed: {"latest_index": _latest_index(listed)},
        )

    async def confirm_version(self, request: Request) -> Response:
        """``Make version X the latest?``."""
        app = parse_app(request.path_params["app"])
        form = Form(request.query_params.multi_items())
        return self._flow.show(request, _version_confirmation(app, form), form)

    async def set_latest_version(self, request: Request) -> Response:
        """Make a version the latest, then show the outcome."""
        require_same_origin(request)
        app = parse_app(request.path_params["app"])

        async def operation(form: Form) -> Operation:
            return set_latest_version_operation(
                JsonBody({"version_name": form.get("version_name")})
            )

        async def describe(form: Form) -> Confirmation:
            return _version_confirmation(app, form)

        return await self._flow.act(
            request,
            app,
            operation=operation,
            describe=describe,
            done_url=f"/apps/{path_segment(app)}/versions",
        )

    # -- shared ---------------------------------------------------------------------------------

    async def _live_page(
        self,
        request: Request,
        kind: RequestKind,
        key: str,
        more: Callable[[LiveList], dict[str, Any]] = lambda listed: {},
    ) -> Response:
        """The page ``{key}.html`` (tab ``key``) of a list asked of a live executor."""
        app = parse_app(request.path_params["app"])
        listed = await self._live.live_list(app, kind, key)
        context = {
            "app": app,
            "tab": key,
            "listed": listed,
            **more(listed),
            "flash": await self._flow.flash(app, request.query_params.get("done")),
        }
        return self._pages.render(request, f"{key}.html", context, refresh=False)


def _latest_index(listed: LiveList) -> int | None:
    """Which listed version is the latest: the newest ``version_timestamp`` (else the first)."""
    if not listed.items:
        return None
    stamps = [v.get("version_timestamp") for v in listed.items]
    known = [s for s in stamps if isinstance(s, int)]
    return stamps.index(max(known)) if known else 0


def _schedule_confirmation(app: AppName, name: str, action: ScheduleAction) -> Confirmation:
    schedules_url = f"/apps/{path_segment(app)}/schedules"
    return Confirmation(
        app=app,
        tab="schedules",
        verb=SCHEDULE_VERBS[action],
        question=(f"{SCHEDULE_VERBS[action].label} schedule", name, "?"),
        fields=schedule_fields(action),
        post_url=f"{schedules_url}/{path_segment(name)}/actions/{action.value}",
        back_url=schedules_url,
    )


def _version_confirmation(app: AppName, form: Form) -> Confirmation:
    name = form.get("version_name")
    if name is None:
        raise BadParameter("version_name", "is required")
    versions_url = f"/apps/{path_segment(app)}/versions"
    return Confirmation(
        app=app,
        tab="versions",
        verb=LATEST_VERB,
        question=("Make version", name, " the latest?"),
        post_url=f"{versions_url}/latest",
        back_url=versions_url,
        hidden={"version_name": name},
    )
