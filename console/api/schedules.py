"""The management API's schedules and application versions: listed by a live executor, and
acted on (pause, resume, trigger or backfill a schedule; make a version the latest).

Owns their routes and OpenAPI operations. Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.actors import ActorResolver
from console.api.answers import ActionAnswers
from console.api.inputs import no_query, read_json_body
from management.actions import Actions
from management.operations import ScheduleAction, schedule_operation, set_latest_version_operation
from management.params import BadParameter, parse_app
from streams.records import RequestKind

MAX_SCHEDULE_NAME_CHARS = 256


class SchedulesApi:
    """The schedule and version endpoints.

    Args:
        actions: carries out and audits actions, and asks executors.
        actors: tells who acts.
    """

    def __init__(self, actions: Actions, actors: ActorResolver) -> None:
        self._actors = actors
        self._answers = ActionAnswers(actions)

    def routes(self) -> list[BaseRoute]:
        app = "/api/v1/apps/{app}"
        return [
            Route(f"{app}/schedules", self.schedules, methods=["GET"]),
            Route(
                f"{app}/schedules/{{schedule_name}}/{{verb}}",
                self.schedule_action,
                methods=["POST"],
            ),
            Route(f"{app}/versions", self.versions, methods=["GET"]),
            Route(f"{app}/versions/latest", self.set_latest_version, methods=["POST"]),
        ]

    async def schedules(self, request: Request) -> Response:
        """An app's schedules, asked of a live executor.

        ---
        summary: List schedules
        tags: [schedules]
        parameters:
          - $ref: "#/components/parameters/App"
        errors: [invalid, live]
        responses:
          "200":
            description: '{"schedules": [...]} as DBOS lists them.'
            content:
              application/json:
                schema: {type: object}
        """
        app = parse_app(request.path_params["app"])
        no_query(request)
        return await self._answers.query(app, RequestKind.LIST_SCHEDULES)

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
        errors: [audited, unknown, live]
        responses:
          "200":
            description: The audited action.
            content:
              application/json:
                schema: {$ref: "#/components/schemas/ActionJson"}
        """
        app = parse_app(request.path_params["app"])
        try:
            verb = ScheduleAction(request.path_params["verb"])
        except ValueError:
            raise HTTPException(404, "use pause, resume, trigger or backfill") from None
        name = request.path_params["schedule_name"]
        if not 1 <= len(name) <= MAX_SCHEDULE_NAME_CHARS or "\x00" in name:
            raise BadParameter("schedule_name", f"1 to {MAX_SCHEDULE_NAME_CHARS} characters")
        body = await read_json_body(request)
        actor = await self._actors.actor(request)
        return await self._answers.run(request, app, schedule_operation(verb, name, body), actor)

    async def versions(self, request: Request) -> Response:
        """An app's application versions, asked of a live executor.

        ---
        summary: List application versions
        tags: [versions]
        parameters:
          - $ref: "#/components/parameters/App"
        errors: [invalid, live]
        responses:
          "200":
            description: '{"versions": [...]} newest first, as DBOS lists them.'
            content:
              application/json:
                schema: {type: object}
        """
        app = parse_app(request.path_params["app"])
        no_query(request)
        return await self._answers.query(app, RequestKind.LIST_VERSIONS)

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
        errors: [audited, live]
        responses:
          "200":
            description: The audited action.
            content:
              application/json:
                schema: {$ref: "#/components/schemas/ActionJson"}
        """
        app = parse_app(request.path_params["app"])
        body = await read_json_body(request)
        actor = await self._actors.actor(request)
        return await self._answers.run(request, app, set_latest_version_operation(body), actor)
