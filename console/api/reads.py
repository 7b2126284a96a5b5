"""The console's HTTP JSON API: one endpoint per resource, each documenting itself for OpenAPI.

Owns the API routes and what each answers; the JSON shapes live in ``console.serialize``, the
parameter rules in ``management.params``, the error bodies in ``console.app``. Each endpoint's
docstring ends, after ``---``, with its OpenAPI operation in YAML (Starlette's ``SchemaGenerator``
reads it). Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from console import listing
from console.access.identity import payloads_withheld
from console.api.openapi import openapi_document
from console.detail import WorkflowLookup
from console.failures import unknown_workflow
from console.serialize import (
    QueuedPageJson,
    app_json,
    executor_json,
    queue_json,
    recovery_json,
    steps_json,
    workflow_detail_json,
    workflow_page_json,
    workflow_summary_json,
)
from management.params import (
    parse_app,
    parse_queued_query,
    parse_workflow_path,
    parse_workflow_query,
)
from runtime.readiness import Readiness
from store.database import Store
from store.reachability import store_check

logger = logging.getLogger(__name__)

OPENAPI_PATH = "/api/openapi.json"


class Api:
    """The JSON endpoints over a started store (and live executors, through ``lookup``).

    Args:
        store: a started store.
        lookup: answers workflow detail and steps, live first.
        readiness: what ``/healthz`` and ``/readyz`` answer; None: the store alone, checked on
            each call.
    """

    def __init__(
        self, store: Store, lookup: WorkflowLookup, readiness: Readiness | None = None
    ) -> None:
        self._store = store
        self._lookup = lookup
        self._readiness = readiness or Readiness("console", {"store": store_check(store)})

    def routes(self, first: Sequence[BaseRoute] = ()) -> list[BaseRoute]:
        """The API's routes, the OpenAPI document's included.

        Args:
            first: more API routes (the management API), matched before these and documented
                with them.
        """
        wf = "/api/v1/apps/{app}/workflows/{workflow_id:path}"
        api_routes: list[BaseRoute] = [
            *first,
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/api/v1/apps", self.apps, methods=["GET"]),
            Route("/api/v1/apps/{app}/executors", self.executors, methods=["GET"]),
            Route("/api/v1/apps/{app}/recoveries", self.recoveries, methods=["GET"]),
            Route("/api/v1/apps/{app}/workflows", self.workflows, methods=["GET"]),
            # Steps first: a workflow id may hold '/', so the detail route matches '.../steps' too.
            Route(f"{wf}/steps", self.steps, methods=["GET"]),
            Route(wf, self.workflow, methods=["GET"]),
            Route("/api/v1/apps/{app}/queues", self.queues, methods=["GET"]),
            Route("/api/v1/apps/{app}/queued-workflows", self.queued, methods=["GET"]),
        ]
        document = openapi_document(api_routes)

        async def openapi(request: Request) -> Response:
            return JSONResponse(document)

        return [
            *api_routes,
            # Beside the API, not in its document: the probe of load balancers and orchestrators.
            Route("/readyz", self.readyz, methods=["GET"]),
            Route(OPENAPI_PATH, openapi, methods=["GET"]),
        ]

    async def healthz(self, request: Request) -> Response:
        """Whether the console is alive: 503 once a part of it has failed; else 200, saying
        ``ok``, or ``degraded`` with what it cannot reach (its store, its broker).

        ---
        summary: Liveness
        tags: [health]
        responses:
          "200":
            description: Alive; status ok, or degraded with what is unreachable.
            content:
              application/json:
                schema: {$ref: "#/components/schemas/HealthJson"}
          "503":
            description: A part of the console has failed (reason says which).
            content:
              application/json:
                schema: {$ref: "#/components/schemas/HealthJson"}
        """
        answer = await self._readiness.healthz()
        return JSONResponse(dict(answer.body), status_code=answer.status)

    async def readyz(self, request: Request) -> Response:
        """Whether the console can serve (``runtime.readiness``), 200 while its store and its
        broker answer, else 503 naming what cannot be reached, and why. Not in the API's
        document (it is not the API), so no OpenAPI operation here."""
        answer = await self._readiness.readyz()
        return JSONResponse(dict(answer.body), status_code=answer.status)

    async def apps(self, request: Request) -> Response:
        """Every app, with executor counts by state and stored workflow counts.

        ---
        summary: List apps
        tags: [apps]
        errors: [store]
        responses:
          "200":
            description: Apps by name (known from executors, API keys or workflows).
            content:
              application/json:
                schema:
                  type: array
                  items: {$ref: "#/components/schemas/AppJson"}
        """
        overviews = await listing.read_apps(self._store)
        return JSONResponse([app_json(o.summary, o.workflows) for o in overviews])

    async def executors(self, request: Request) -> Response:
        """An app's executors.

        ---
        summary: List an app's executors
        tags: [executors]
        parameters:
          - $ref: "#/components/parameters/App"
        errors: [invalid, store]
        responses:
          "200":
            description: Executors by id, in every state (connected, disconnected, dead...).
            content:
              application/json:
                schema:
                  type: array
                  items: {$ref: "#/components/schemas/ExecutorJson"}
        """
        rows = await listing.read_executors(self._store, parse_app(request.path_params["app"]))
        return JSONResponse([executor_json(row) for row in rows])

    async def recoveries(self, request: Request) -> Response:
        """An app's most recent recoveries of dead executors.

        ---
        summary: List an app's recoveries
        tags: [recoveries]
        parameters:
          - $ref: "#/components/parameters/App"
        errors: [invalid, store]
        responses:
          "200":
            description: The latest 100 recoveries, newest first.
            content:
              application/json:
                schema:
                  type: array
                  items: {$ref: "#/components/schemas/RecoveryJson"}
        """
        rows = await listing.read_recoveries(self._store, parse_app(request.path_params["app"]))
        return JSONResponse([recovery_json(row) for row in rows])

    async def workflows(self, request: Request) -> Response:
        """A page of an app's workflows, filtered, with counts per status.

        ---
        summary: List an app's workflows
        description: >-
          Answered from the store, so it works while the app's executors are offline.
          counts ignores the status filter (it feeds status tabs). Page with offset, or with
          cursor (a previous page's next_cursor) for stable pages while workflows arrive.
        tags: [workflows]
        parameters:
          - $ref: "#/components/parameters/App"
          - $ref: "#/components/parameters/Status"
          - $ref: "#/components/parameters/Name"
          - $ref: "#/components/parameters/WorkflowIdPrefix"
          - $ref: "#/components/parameters/Queue"
          - $ref: "#/components/parameters/ApplicationVersion"
          - $ref: "#/components/parameters/ExecutorId"
          - $ref: "#/components/parameters/CreatedAfter"
          - $ref: "#/components/parameters/CreatedBefore"
          - $ref: "#/components/parameters/Limit"
          - $ref: "#/components/parameters/Offset"
          - $ref: "#/components/parameters/Cursor"
          - $ref: "#/components/parameters/Sort"
        errors: [invalid, store]
        responses:
          "200":
            description: One page (no inputs or outputs; errors cut short).
            content:
              application/json:
                schema: {$ref: "#/components/schemas/WorkflowPageJson"}
        """
        app = parse_app(request.path_params["app"])
        query = parse_workflow_query(request.query_params.multi_items())
        result = await listing.read_workflows(
            self._store, app, query, withheld=payloads_withheld(request)
        )
        return JSONResponse(
            workflow_page_json(
                result.workflows,
                result.counts,
                limit=query.limit,
                offset=query.offset,
                next_cursor=result.next_cursor,
                payloads_hidden=result.payloads_hidden,
            )
        )

    async def workflow(self, request: Request) -> Response:
        """One workflow in full, live from an executor when one answers, else from the store.

        ---
        summary: Get a workflow
        description: >-
          source says where the answer came from; stale_as_of is null when live, else when
          the store last observed the workflow.
        tags: [workflows]
        parameters:
          - $ref: "#/components/parameters/App"
          - $ref: "#/components/parameters/WorkflowId"
        errors: [invalid, unknown, store]
        responses:
          "200":
            description: The workflow with inputs, output, error and children.
            content:
              application/json:
                schema: {$ref: "#/components/schemas/WorkflowDetailJson"}
        """
        app, workflow_id = parse_workflow_path(request.path_params)
        view = await self._lookup.workflow(app, workflow_id, withheld=payloads_withheld(request))
        if view is None:
            raise unknown_workflow(app, workflow_id)
        return JSONResponse(workflow_detail_json(view))

    async def steps(self, request: Request) -> Response:
        """A workflow's steps, live from an executor when one answers, else from the store.

        ---
        summary: List a workflow's steps
        tags: [workflows]
        parameters:
          - $ref: "#/components/parameters/App"
          - $ref: "#/components/parameters/WorkflowId"
        errors: [invalid, unknown, store]
        responses:
          "200":
            description: Steps by function id, with where they came from.
            content:
              application/json:
                schema: {$ref: "#/components/schemas/StepsJson"}
        """
        app, workflow_id = parse_workflow_path(request.path_params)
        view = await self._lookup.steps(app, workflow_id, withheld=payloads_withheld(request))
        if view is None:
            raise unknown_workflow(app, workflow_id)
        return JSONResponse(steps_json(view))

    async def queues(self, request: Request) -> Response:
        """An app's queues with their counts.

        ---
        summary: List an app's queues
        tags: [queues]
        parameters:
          - $ref: "#/components/parameters/App"
        errors: [invalid, store]
        responses:
          "200":
            description: Queues by name, with enqueued, pending and delayed counts.
            content:
              application/json:
                schema:
                  type: array
                  items: {$ref: "#/components/schemas/QueueJson"}
        """
        summaries = await listing.read_queues(self._store, parse_app(request.path_params["app"]))
        return JSONResponse([queue_json(summary) for summary in summaries])

    async def queued(self, request: Request) -> Response:
        """A page of an app's queued workflows (enqueued, pending or delayed on a queue).

        ---
        summary: List an app's queued workflows
        tags: [queues]
        parameters:
          - $ref: "#/components/parameters/App"
          - $ref: "#/components/parameters/Queue"
          - $ref: "#/components/parameters/Limit"
          - $ref: "#/components/parameters/Offset"
        errors: [invalid, store]
        responses:
          "200":
            description: One page of queued workflows.
            content:
              application/json:
                schema: {$ref: "#/components/schemas/QueuedPageJson"}
        """
        app = parse_app(request.path_params["app"])
        query = parse_queued_query(request.query_params.multi_items())
        statuses = await listing.read_queued(self._store, app, query)
        return JSONResponse(
            QueuedPageJson(
                workflows=[workflow_summary_json(status) for status in statuses],
                limit=query.limit,
                offset=query.offset,
            )
        )
