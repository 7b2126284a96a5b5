"""The management API's transfer of workflows: export one (with its children) as DBOS
serialises it, and import such an export into an app.

Owns their routes and OpenAPI operations. An export is audited but its blob is not kept, so a
repeated Idempotency-Key cannot answer it again (409). Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from console.actors import ActorResolver
from console.api.actions import WORKFLOW_PATH
from console.api.answers import ActionAnswers, action_error
from console.api.inputs import read_json_body, single_params
from management.actions import Actions
from management.operations import export_operation, import_operation
from management.outcomes import ActionFailed
from management.params import BadParameter, parse_app, parse_workflow_path


class TransferApi:
    """The export and import endpoints.

    Args:
        actions: carries out and audits actions.
        actors: tells who acts.
    """

    def __init__(self, actions: Actions, actors: ActorResolver) -> None:
        self._actions = actions
        self._actors = actors
        self._answers = ActionAnswers(actions)

    def routes(self) -> list[BaseRoute]:
        return [
            Route(f"{WORKFLOW_PATH}/export", self.export, methods=["GET"]),
            Route("/api/v1/apps/{app}/import", self.import_workflow, methods=["POST"]),
        ]

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
        errors: [audited, unknown, live]
        responses:
          "200":
            description: '{"serialized_workflow": "..."}: import it with POST /apps/{app}/import.'
            content:
              application/json:
                schema:
                  type: object
                  properties: {serialized_workflow: {type: string}}
        """
        app, workflow_id = parse_workflow_path(request.path_params)
        query = single_params(request, ("children",))
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
        return await self._answers.run(request, app, import_operation(body), actor)
