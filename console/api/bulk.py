"""The management API's bulk jobs: start one (or preview its selection), list an app's jobs,
follow one.

Owns the bulk routes and their answers; the jobs themselves are ``management.bulk``'s. A job's id
is its Idempotency-Key: the same key answers the existing job (200) instead of starting another
(202). Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.endpoints import HTTPEndpoint
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from console.actors import ActorResolver
from console.api.answers import action_error
from console.api.inputs import int_param, no_query, read_json_body, single_params
from console.api.management_json import bulk_job_json, bulk_preview_json, bulk_view_json
from management.bulk import BulkJobs, parse_bulk_body
from management.outcomes import ActionFailed
from management.params import BadParameter, parse_app

DEFAULT_ITEMS_LIMIT = 100
MAX_ITEMS_LIMIT = 500
MAX_OFFSET_DIGITS = 9


class BulkApi:
    """The bulk endpoints.

    Args:
        bulk: bulk jobs.
        actors: tells who acts.
    """

    def __init__(self, bulk: BulkJobs, actors: ActorResolver) -> None:
        self._bulk = bulk
        self._actors = actors

    def routes(self) -> list[BaseRoute]:
        app = "/api/v1/apps/{app}"
        return [
            # One route per path: two would answer each other's method with a wrong 405.
            Route(f"{app}/bulk", _endpoint_class(get=self.bulk_history, post=self.bulk)),
            Route(f"{app}/bulk/{{job_id}}", self.bulk_job, methods=["GET"]),
        ]

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
        errors: [audited]
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
        errors: [invalid]
        responses:
          "200":
            description: The jobs (without their items).
            content:
              application/json:
                schema:
                  type: array
                  items: {$ref: "#/components/schemas/BulkJobJson"}
        """
        app = parse_app(request.path_params["app"])
        no_query(request)
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
        errors: [invalid, unknown]
        responses:
          "200":
            description: The job and a page of its items (in selection order).
            content:
              application/json:
                schema: {$ref: "#/components/schemas/BulkJobJson"}
        """
        app = parse_app(request.path_params["app"])
        limit, offset = _page(request, ("limit", "offset"))
        view = await self._bulk.get(
            app, request.path_params["job_id"][:64], items=limit, offset=offset
        )
        if view is None:
            raise HTTPException(404, f"no bulk job {request.path_params['job_id'][:64]!r} in {app}")
        return JSONResponse(bulk_view_json(view))


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
    return type("BulkEndpoint", (HTTPEndpoint,), namespace)


def _page(request: Request, names: tuple[str, str]) -> tuple[int, int]:
    query = single_params(request, names)
    limit = int_param(query, "limit", DEFAULT_ITEMS_LIMIT, MAX_ITEMS_LIMIT)
    offset_text = query.get("offset", "0")
    if (
        not offset_text.isascii()
        or not offset_text.isdigit()
        or len(offset_text) > MAX_OFFSET_DIGITS
    ):
        raise BadParameter("offset", "an integer from 0 to 999999999")
    return limit, int(offset_text)
