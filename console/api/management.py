"""The console's management API: operators' actions, bulk jobs, the audit log, schedules,
application versions, export/import and a workflow's events, notifications and streams.

Owns these routes and their status codes (docs/management-design.md). Each endpoint documents itself
for OpenAPI in YAML after ``---`` in its docstring, like ``console.api.reads``. Actions need a live
executor of the app: when none answers, the error says why (``management.actions``). Request bodies
are JSON objects (``Content-Type: application/json``, which a cross-site form cannot send). Must not
import the gateway, Faust or Kafka.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.endpoints import HTTPEndpoint
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from console.actors import ActorResolver, refuse_cross_site
from console.api.management_json import (
    action_json,
    audit_page_json,
    bulk_job_json,
    bulk_preview_json,
    bulk_view_json,
)
from console.failures import failure_status
from management.actions import Actions
from management.bulk import BulkJobs, parse_bulk_body
from management.operations import (
    MAX_IMPORT_CHARS,
    JsonBody,
    Operation,
    ScheduleAction,
    WorkflowAction,
    export_operation,
    import_operation,
    schedule_operation,
    set_latest_version_operation,
    workflow_operation,
)
from management.outcomes import ActionFailed
from management.params import BadParameter, parse_app, parse_time_ms, parse_workflow_path
from store.audit import AuditFilter, list_audit
from store.database import Store
from store.models import utc_from_ms
from streams.ids import AppName
from streams.records import RequestKind

MAX_BODY_BYTES = MAX_IMPORT_CHARS + 64 * 1024
AUDIT_PARAMS = ("app", "actor", "action", "target", "outcome", "since", "until", "limit", "cursor")
AUDIT_OUTCOMES = ("succeeded", "failed", "rejected", "stranded", "abandoned", "ok")
"""Operator actions end succeeded/failed/rejected; recovery steps also stranded/abandoned/ok."""
DEFAULT_AUDIT_LIMIT = 100
MAX_AUDIT_LIMIT = 500
_COMMUNICATION = {
    "events": RequestKind.GET_EVENTS,
    "notifications": RequestKind.GET_NOTIFICATIONS,
    "streams": RequestKind.GET_STREAMS,
}


def action_error(exc: ActionFailed) -> JSONResponse:
    """The answer to a failed action: its message, and the audited record when there is one."""
    if exc.record is None:
        return JSONResponse({"error": str(exc)}, status_code=failure_status(exc.reason))
    return JSONResponse(
        {"error": str(exc), "action": action_json(exc.record, replayed=False)},
        status_code=failure_status(exc.reason),
    )


async def read_json_body(request: Request) -> JsonBody:
    """A request's JSON object body (empty: ``{}``).

    Raises:
        BadParameter: not JSON, not an object, too large, or not sent as application/json.
        HTTPException: 403 for a browser's cross-site request.
    """
    refuse_cross_site(request)
    content_type = request.headers.get("content-type")
    if content_type is not None and (
        content_type.split(";")[0].strip().lower() != "application/json"
    ):
        raise BadParameter("body", "send it as Content-Type: application/json")
    raw = await request.body()
    if not raw.strip():
        return JsonBody({})
    if len(raw) > MAX_BODY_BYTES:
        raise BadParameter("body", f"at most {MAX_BODY_BYTES} bytes")
    if content_type is None:
        raise BadParameter("body", "send it as Content-Type: application/json")
    try:
        return JsonBody(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        raise BadParameter("body", f"not JSON: {exc}") from None


class ManagementApi:
    """The management endpoints.

    Args:
        store: a started store.
        actions: carries out and audits actions.
        bulk: bulk jobs.
        actors: tells who acts.
    """

    def __init__(
        self, store: Store, actions: Actions, bulk: BulkJobs, actors: ActorResolver
    ) -> None:
        self._store = store
        self._actions = actions
        self._bulk = bulk
        self._actors = actors

    def routes(self) -> list[BaseRoute]:
        """The routes; they go before the read routes (whose workflow path matches any tail)."""
        app = "/api/v1/apps/{app}"
        wf = f"{app}/workflows/{{workflow_id:path}}"
        routes: list[BaseRoute] = [
            Route(f"{wf}/{action.value}", self._workflow_endpoint(action), methods=["POST"])
            for action in WorkflowAction
        ]
        routes += [
            Route(f"{wf}/export", self.export, methods=["GET"]),
            *(
                Route(f"{wf}/{name}", self._communication_endpoint(name), methods=["GET"])
                for name in _COMMUNICATION
            ),
            Route(f"{app}/import", self.import_workflow, methods=["POST"]),
            # One route per path: two would answer each other's method with a wrong 405.
            Route(f"{app}/bulk", _endpoint_class(get=self.bulk_history, post=self.bulk)),
            Route(f"{app}/bulk/{{job_id}}", self.bulk_job, methods=["GET"]),
            Route(f"{app}/schedules", self.schedules, methods=["GET"]),
            Route(
                f"{app}/schedules/{{schedule_name}}/{{verb}}",
                self.schedule_action,
                methods=["POST"],
            ),
            Route(f"{app}/versions", self.versions, methods=["GET"]),
            Route(f"{app}/versions/latest", self.set_latest_version, methods=["POST"]),
            Route("/api/v1/audit", self.audit, methods=["GET"]),
        ]
        return routes

    # -- actions on one workflow ----------------------------------------------------------------

    def _workflow_endpoint(self, action: WorkflowAction) -> Any:
        async def endpoint(request: Request) -> Response:
            return await self._workflow_action(request, action)

        endpoint.__doc__ = _WORKFLOW_ACTION_DOCS[action]
        endpoint.__name__ = f"{action.value}_workflow"
        return endpoint

    async def _workflow_action(self, request: Request, action: WorkflowAction) -> Response:
        app, workflow_id = parse_workflow_path(request.path_params)
        body = await read_json_body(request)
        actor = await self._actors.actor(request)
        version = None
        if action in (WorkflowAction.RESUME, WorkflowAction.RESTART, WorkflowAction.FORK):
            version = await self._actions.version_of(app, workflow_id)
        operation = workflow_operation(action, workflow_id, body, stored_version=version)
        return await self._run(request, app, operation, actor)

    async def _run(
        self, request: Request, app: AppName, operation: Operation, actor: str
    ) -> Response:
        try:
            result = await self._actions.run(
                app,
                operation,
                actor=actor,
                idempotency_key=request.headers.get("idempotency-key"),
            )
        except ActionFailed as exc:
            return action_error(exc)
        return JSONResponse(action_json(result.record, replayed=result.replayed))

    # -- bulk -----------------------------------------------------------------------------------

    async def bulk(self, request: Request) -> Response:
        """Start a bulk action, or preview how many workflows it selects (dry_run).

        ---
        summary: Bulk action
        description: >-
          Select workflows by workflow_ids or by filter (the workflows list's filters: status (a
          list), name, workflow_id_prefix, queue, application_version, executor_id,
          created_after, created_before). With dry_run, only count them. Otherwise a job starts
          (202) and runs in chunks; follow it at /bulk/{job_id}. At most 10000 workflows.
        tags: [actions]
        parameters:
          - $ref: "#/components/parameters/App"
          - $ref: "#/components/parameters/IdempotencyKey"
        requestBody:
          required: true
          content:
            application/json:
              schema: {$ref: "#/components/schemas/BulkRequest"}
        responses:
          "200":
            description: The preview (dry_run), or the existing job of this Idempotency-Key.
            content:
              application/json:
                schema:
                  anyOf:
                    - {$ref: "#/components/schemas/BulkPreviewJson"}
                    - {$ref: "#/components/schemas/BulkJobJson"}
          "202":
            description: The job started.
            content:
              application/json:
                schema: {$ref: "#/components/schemas/BulkJobJson"}
          "400": {$ref: "#/components/responses/ActionError"}
          "401": {$ref: "#/components/responses/Unauthorized"}
          "409": {$ref: "#/components/responses/ActionError"}
        """
        app = parse_app(request.path_params["app"])
        spec = parse_bulk_body(await read_json_body(request))
        if spec.dry_run:
            return JSONResponse(bulk_preview_json(await self._bulk.preview(app, spec)))
        actor = await self._actors.actor(request)
        try:
            view, replayed = await self._bulk.start(
                app, spec, actor=actor, idempotency_key=request.headers.get("idempotency-key")
            )
        except ActionFailed as exc:
            return action_error(exc)
        return JSONResponse(
            bulk_view_json(view, replayed=replayed), status_code=200 if replayed else 202
        )

    async def bulk_history(self, request: Request) -> Response:
        """An app's bulk jobs, newest first.

        ---
        summary: List bulk jobs
        tags: [actions]
        parameters:
          - $ref: "#/components/parameters/App"
        responses:
          "200":
            description: The jobs (without their items).
            content:
              application/json:
                schema:
                  type: array
                  items: {$ref: "#/components/schemas/BulkJobJson"}
          "400": {$ref: "#/components/responses/BadRequest"}
        """
        app = parse_app(request.path_params["app"])
        _no_query(request)
        return JSONResponse([bulk_job_json(job, []) for job in await self._bulk.history(app)])

    async def bulk_job(self, request: Request) -> Response:
        """A bulk job's progress and per-workflow outcomes.

        ---
        summary: Get a bulk job
        tags: [actions]
        parameters:
          - $ref: "#/components/parameters/App"
          - {name: job_id, in: path, required: true, schema: {type: string}}
          - $ref: "#/components/parameters/Limit"
          - $ref: "#/components/parameters/Offset"
        responses:
          "200":
            description: The job and a page of its items (in selection order).
            content:
              application/json:
                schema: {$ref: "#/components/schemas/BulkJobJson"}
          "400": {$ref: "#/components/responses/BadRequest"}
          "404": {$ref: "#/components/responses/NotFound"}
        """
        app = parse_app(request.path_params["app"])
        limit, offset = _page(request, ("limit", "offset"))
        view = await self._bulk.get(
            app, request.path_params["job_id"][:64], items=limit, offset=offset
        )
        if view is None:
            raise HTTPException(404, f"no bulk job {request.path_params['job_id'][:64]!r} in {app}")
        return JSONResponse(bulk_view_json(view))

    # -- audit ----------------------------------------------------------------------------------

    async def audit(self, request: Request) -> Response:
        """The audit log: every operator action and recovery decision, newest first.

        ---
        summary: Audit log
        tags: [audit]
        parameters:
          - {name: app, in: query, required: false, schema: {type: string}}
          - {name: actor, in: query, required: false, schema: {type: string}}
          - name: action
            in: query
            required: false
            description: An action (workflow.cancel), or a prefix ending in '.' (workflow.).
            schema: {type: string}
          - {name: target, in: query, required: false, schema: {type: string}}
          - name: outcome
            in: query
            required: false
            schema: {type: string, enum: [succeeded, failed, rejected, stranded, abandoned, ok]}
          - $ref: "#/components/parameters/Since"
          - $ref: "#/components/parameters/Until"
          - $ref: "#/components/parameters/Limit"
          - $ref: "#/components/parameters/Cursor"
        responses:
          "200":
            description: One page of entries.
            content:
              application/json:
                schema: {$ref: "#/components/schemas/AuditPageJson"}
          "400": {$ref: "#/components/responses/BadRequest"}
        """
        query = _single_params(request, AUDIT_PARAMS)
        app = query.get("app")
        since = query.get("since")
        until = query.get("until")
        flt = AuditFilter(
            app=None if app is None else parse_app(app),
            actor=query.get("actor"),
            action=query.get("action"),
            target=query.get("target"),
            outcome=query.get("outcome"),
            since=None if since is None else utc_from_ms(parse_time_ms("since", since)),
            until=None if until is None else utc_from_ms(parse_time_ms("until", until)),
        )
        if flt.outcome is not None and flt.outcome not in AUDIT_OUTCOMES:
            raise BadParameter("outcome", f"one of {', '.join(AUDIT_OUTCOMES)}")
        limit = _int(query, "limit", DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT)
        try:
            async with self._store.sessionmaker.begin() as session:
                page = await list_audit(session, flt, limit=limit, cursor=query.get("cursor"))
        except ValueError as exc:
            raise BadParameter("cursor", str(exc)) from None
        return JSONResponse(audit_page_json(page))

    # -- schedules, versions, export/import, communication ---------------------------------------

    async def schedules(self, request: Request) -> Response:
        """An app's schedules, asked of a live executor.

        ---
        summary: List schedules
        tags: [schedules]
        parameters:
          - $ref: "#/components/parameters/App"
        responses:
          "200":
            description: '{"schedules": [...]} as DBOS lists them.'
            content:
              application/json:
                schema: {type: object}
          "400": {$ref: "#/components/responses/BadRequest"}
          "503": {$ref: "#/components/responses/ActionError"}
        """
        app = parse_app(request.path_params["app"])
        _no_query(request)
        return await self._query(app, RequestKind.LIST_SCHEDULES)

    async def schedule_action(self, request: Request) -> Response:
        """Pause, resume, trigger or backfill a schedule.

        ---
        summary: Act on a schedule
        description: >-
          verb is pause, resume, trigger (run now) or backfill (body {"start", "end"}: ISO 8601
          times with a zone; runs every missed firing in that range).
        tags: [schedules]
        parameters:
          - $ref: "#/components/parameters/App"
          - {name: schedule_name, in: path, required: true, schema: {type: string}}
          - name: verb
            in: path
            required: true
            schema: {type: string, enum: [pause, resume, trigger, backfill]}
          - $ref: "#/components/parameters/IdempotencyKey"
        responses:
          "200":
            description: The audited action.
            content:
              application/json:
                schema: {$ref: "#/components/schemas/ActionJson"}
          "400": {$ref: "#/components/responses/ActionError"}
          "401": {$ref: "#/components/responses/Unauthorized"}
          "404": {$ref: "#/components/responses/NotFound"}
          "409": {$ref: "#/components/responses/ActionError"}
          "502": {$ref: "#/components/responses/ActionError"}
          "503": {$ref: "#/components/responses/ActionError"}
          "504": {$ref: "#/components/responses/ActionError"}
        """
        app = parse_app(request.path_params["app"])
        try:
            verb = ScheduleAction(request.path_params["verb"])
        except ValueError:
            raise HTTPException(404, "use pause, resume, trigger or backfill") from None
        name = request.path_params["schedule_name"]
        if not 1 <= len(name) <= 256 or "\x00" in name:
            raise BadParameter("schedule_name", "1 to 256 characters")
        body = await read_json_body(request)
        actor = await self._actors.actor(request)
        return await self._run(request, app, schedule_operation(verb, name, body), actor)

    async def versions(self, request: Request) -> Response:
        """An app's application versions, asked of a live executor.

        ---
        summary: List application versions
        tags: [versions]
        parameters:
          - $ref: "#/components/parameters/App"
        responses:
          "200":
            description: '{"versions": [...]} newest first, as DBOS lists them.'
            content:
              application/json:
                schema: {type: object}
          "400": {$ref: "#/components/responses/BadRequest"}
          "503": {$ref: "#/components/responses/ActionError"}
        """
        app = parse_app(request.path_params["app"])
        _no_query(request)
        return await self._query(app, RequestKind.LIST_VERSIONS)

    async def set_latest_version(self, request: Request) -> Response:
        """Make a version the app's latest.

        ---
        summary: Set the latest application version
        tags: [versions]
        parameters:
          - $ref: "#/components/parameters/App"
          - $ref: "#/components/parameters/IdempotencyKey"
        requestBody:
          required: true
          content:
            application/json:
              schema:
                type: object
                required: [version_name]
                properties: {version_name: {type: string}}
        responses:
          "200":
            description: The audited action.
            content:
              application/json:
                schema: {$ref: "#/components/schemas/ActionJson"}
          "400": {$ref: "#/components/responses/ActionError"}
          "401": {$ref: "#/components/responses/Unauthorized"}
          "409": {$ref: "#/components/responses/ActionError"}
          "502": {$ref: "#/components/responses/ActionError"}
          "503": {$ref: "#/components/responses/ActionError"}
          "504": {$ref: "#/components/responses/ActionError"}
        """
        app = parse_app(request.path_params["app"])
        body = await read_json_body(request)
        actor = await self._actors.actor(request)
        return await self._run(request, app, set_latest_version_operation(body), actor)

    async def export(self, request: Request) -> Response:
        """Export a workflow (and, with children=true, its children) as DBOS serialises it.

        ---
        summary: Export a workflow
        tags: [workflows]
        parameters:
          - $ref: "#/components/parameters/App"
          - $ref: "#/components/parameters/WorkflowId"
          - {name: children, in: query, required: false, schema: {type: boolean}}
          - $ref: "#/components/parameters/IdempotencyKey"
        responses:
          "200":
            description: '{"serialized_workflow": "..."}: import it with POST /apps/{app}/import.'
            content:
              application/json:
                schema:
                  type: object
                  properties: {serialized_workflow: {type: string}}
          "400": {$ref: "#/components/responses/ActionError"}
          "401": {$ref: "#/components/responses/Unauthorized"}
          "404": {$ref: "#/components/responses/NotFound"}
          "409": {$ref: "#/components/responses/ActionError"}
          "502": {$ref: "#/components/responses/ActionError"}
          "503": {$ref: "#/components/responses/ActionError"}
          "504": {$ref: "#/components/responses/ActionError"}
        """
        app, workflow_id = parse_workflow_path(request.path_params)
        query = _single_params(request, ("children",))
        children = query.get("children", "false")
        if children not in ("true", "false"):
            raise BadParameter("children", "true or false")
        actor = await self._actors.actor(request)
        operation = export_operation(workflow_id, children=children == "true")
        try:
            result = await self._actions.run(
                app, operation, actor=actor, idempotency_key=request.headers.get("idempotency-key")
            )
        except ActionFailed as exc:
            return action_error(exc)
        if result.replayed:
            # The blob is not kept: export again under a new key.
            raise HTTPException(409, "this Idempotency-Key was used: export with a new one")
        return JSONResponse(
            {"serialized_workflow": (result.output or {}).get("serialized_workflow")}
        )

    async def import_workflow(self, request: Request) -> Response:
        """Import a workflow exported from this or another app.

        ---
        summary: Import a workflow
        tags: [workflows]
        parameters:
          - $ref: "#/components/parameters/App"
          - $ref: "#/components/parameters/IdempotencyKey"
        requestBody:
          required: true
          content:
            application/json:
              schema:
                type: object
                required: [serialized_workflow]
                properties: {serialized_workflow: {type: string}}
        responses:
          "200":
            description: The audited action.
            content:
              application/json:
                schema: {$ref: "#/components/schemas/ActionJson"}
          "400": {$ref: "#/components/responses/ActionError"}
          "401": {$ref: "#/components/responses/Unauthorized"}
          "409": {$ref: "#/components/responses/ActionError"}
          "502": {$ref: "#/components/responses/ActionError"}
          "503": {$ref: "#/components/responses/ActionError"}
          "504": {$ref: "#/components/responses/ActionError"}
        """
        app = parse_app(request.path_params["app"])
        body = await read_json_body(request)
        actor = await self._actors.actor(request)
        return await self._run(request, app, import_operation(body), actor)

    def _communication_endpoint(self, name: str) -> Any:
        kind = _COMMUNICATION[name]

        async def endpoint(request: Request) -> Response:
            app, workflow_id = parse_workflow_path(request.path_params)
            _no_query(request)
            return await self._query(app, kind, workflow_id)

        endpoint.__doc__ = f"""A workflow's {name}, asked of a live executor.

        ---
        summary: Get a workflow's {name}
        tags: [workflows]
        parameters:
          - $ref: "#/components/parameters/App"
          - $ref: "#/components/parameters/WorkflowId"
        responses:
          "200":
            description: '{{"{name}": [...]}}'
            content:
              application/json:
                schema: {{type: object}}
          "400": {{$ref: "#/components/responses/BadRequest"}}
          "404": {{$ref: "#/components/responses/NotFound"}}
          "502": {{$ref: "#/components/responses/ActionError"}}
          "503": {{$ref: "#/components/responses/ActionError"}}
          "504": {{$ref: "#/components/responses/ActionError"}}
        """
        endpoint.__name__ = f"workflow_{name}"
        return endpoint

    async def _query(self, app: AppName, kind: RequestKind, workflow_id: str = "") -> Response:
        try:
            result = await self._actions.query(app, kind, workflow_id)
        except ActionFailed as exc:
            return action_error(exc)
        return JSONResponse(result if isinstance(result, dict) else {"result": result})


def _endpoint_class(**handlers: Callable[[Request], Awaitable[Response]]) -> type[HTTPEndpoint]:
    """A Starlette endpoint class answering each HTTP method (``get=``, ``post=``) with a handler;
    the OpenAPI generator reads each method's docstring (the handler's)."""
    namespace: dict[str, Any] = {}
    for verb, handler in handlers.items():

        async def method(
            self: HTTPEndpoint,
            request: Request,
            handler: Callable[[Request], Awaitable[Response]] = handler,
        ) -> Response:
            return await handler(request)

        method.__doc__ = handler.__doc__
        namespace[verb] = method
    return type("ManagementEndpoint", (HTTPEndpoint,), namespace)


def _no_query(request: Request) -> None:
    _single_params(request, ())


def _single_params(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise BadParameter(name, "is not a parameter of this endpoint")
        if name in values:
            raise BadParameter(name, "give it at most once")
        if "\x00" in value or len(value) > 512:
            raise BadParameter(name, "at most 512 characters, no NUL")
        if value != "":
            values[name] = value
    return values


def _int(query: dict[str, str], name: str, default: int, high: int) -> int:
    value = query.get(name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= high:
        raise BadParameter(name, f"an integer from 1 to {high}")
    return int(value)


def _page(request: Request, names: tuple[str, str]) -> tuple[int, int]:
    query = _single_params(request, names)
    limit = _int(query, "limit", 100, MAX_AUDIT_LIMIT)
    offset_text = query.get("offset", "0")
    if not offset_text.isascii() or not offset_text.isdigit() or len(offset_text) > 9:
        raise BadParameter("offset", "an integer from 0 to 999999999")
    return limit, int(offset_text)


def _action_doc(action: WorkflowAction, summary: str, description: str, body: str) -> str:
    return f"""{summary}.

        ---
        summary: {summary}
        description: >-
          {description} Carried out by a live executor of the app (retried on another one if it
          leaves); audited. The same Idempotency-Key acts once (the first outcome is answered,
          with replayed true).
        tags: [actions]
        parameters:
          - $ref: "#/components/parameters/App"
          - $ref: "#/components/parameters/WorkflowId"
          - $ref: "#/components/parameters/IdempotencyKey"
        requestBody:
          required: false
          content:
            application/json:
              schema: {body}
        responses:
          "200":
            description: Done; the audited action.
            content:
              application/json:
                schema: {{$ref: "#/components/schemas/ActionJson"}}
          "400": {{$ref: "#/components/responses/ActionError"}}
          "401": {{$ref: "#/components/responses/Unauthorized"}}
          "404": {{$ref: "#/components/responses/NotFound"}}
          "409": {{$ref: "#/components/responses/ActionError"}}
          "502": {{$ref: "#/components/responses/ActionError"}}
          "503": {{$ref: "#/components/responses/ActionError"}}
          "504": {{$ref: "#/components/responses/ActionError"}}
        """


_WORKFLOW_ACTION_DOCS = {
    WorkflowAction.CANCEL: _action_doc(
        WorkflowAction.CANCEL,
        "Cancel a workflow",
        "It stops at its next step.",
        "{type: object, properties: {cancel_children: {type: boolean}}}",
    ),
    WorkflowAction.RESUME: _action_doc(
        WorkflowAction.RESUME,
        "Resume a workflow",
        "A cancelled or failed workflow runs again from its last completed step, on an executor "
        "of its application version (409 when none is connected).",
        "{type: object, properties: {queue_name: {type: string}}}",
    ),
    WorkflowAction.RESTART: _action_doc(
        WorkflowAction.RESTART,
        "Restart a workflow",
        "A new workflow (result.new_workflow_id) runs it again from its first step, on an "
        "executor of its application version.",
        "{type: object}",
    ),
    WorkflowAction.FORK: _action_doc(
        WorkflowAction.FORK,
        "Fork a workflow",
        "A new workflow runs it from start_step (earlier steps' results are reused), optionally "
        "on another application version or queue.",
        "{type: object, required: [start_step], properties: {start_step: {type: integer, "
        "minimum: 1}, application_version: {type: string}, new_workflow_id: {type: string}, "
        "queue_name: {type: string}}}",
    ),
    WorkflowAction.DELETE: _action_doc(
        WorkflowAction.DELETE,
        "Delete a workflow",
        "Its record and steps leave the executor's system database.",
        "{type: object, properties: {delete_children: {type: boolean}}}",
    ),
}
