"""The management API's actions on one workflow: cancel, resume, restart, fork, rewind and delete.

Owns their routes (``POST .../workflows/{workflow_id}/{action}``) and OpenAPI operations: one
template, since the six differ only in their summary, description and body. An action is carried
out by a live executor of the app (``management.actions``); resume, restart, fork and rewind need
one of the workflow's application version (unless a fork or rewind names another). Must not import
the gateway, Faust or Kafka.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.actors import ActorResolver
from console.api.answers import ActionAnswers
from console.api.inputs import read_json_body
from management.actions import Actions
from management.operations import VERSIONED_ACTIONS, WorkflowAction, workflow_operation
from management.params import parse_workflow_path

WORKFLOW_PATH = "/api/v1/apps/{app}/workflows/{workflow_id:path}"
"""The path of one workflow; its management routes go before the read routes, whose
``{workflow_id:path}`` matches any tail."""


class WorkflowActionsApi:
    """The actions on one workflow.

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
            Route(f"{WORKFLOW_PATH}/{action.value}", self._endpoint(action), methods=["POST"])
            for action in WorkflowAction
        ]

    def _endpoint(self, action: WorkflowAction) -> Any:
        async def endpoint(request: Request) -> Response:
            return await self._act(request, action)

        endpoint.__doc__ = _WORKFLOW_ACTION_DOCS[action]
        endpoint.__name__ = f"{action.value}_workflow"
        return endpoint

    async def _act(self, request: Request, action: WorkflowAction) -> Response:
        app, workflow_id = parse_workflow_path(request.path_params)
        body = await read_json_body(request)
        actor = await self._actors.actor(request)
        version = None
        if action in VERSIONED_ACTIONS:
            version = await self._actions.version_of(app, workflow_id)
        operation = workflow_operation(action, workflow_id, body, stored_version=version)
        return await self._answers.run(request, app, operation, actor)


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
        errors: [audited, unknown, live]
        responses:
          "200":
            description: Done; the audited action.
            content:
              application/json:
                schema: {{$ref: "#/components/schemas/ActionJson"}}
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
        "minimum: 0}, application_version: {type: string}, new_workflow_id: {type: string}, "
        "queue_name: {type: string}}}",
    ),
    WorkflowAction.REWIND: _action_doc(
        WorkflowAction.REWIND,
        "Rewind a workflow",
        "A finished workflow runs again from start_step under its own id (the steps before it "
        "keep their results; omitted, from the client's first step), on an executor of its "
        "application version unless application_version names another. Newer clients only "
        "(Python 3.2, TypeScript 5.2, Go 1.6): an executor whose client lacks it answers 501 "
        "naming the client and version.",
        "{type: object, properties: {start_step: {type: integer, minimum: 0, maximum: 1000000}, "
        "application_version: {type: string}, queue_name: {type: string}}}",
    ),
    WorkflowAction.DELETE: _action_doc(
        WorkflowAction.DELETE,
        "Delete a workflow",
        "Its record and steps leave the executor's system database.",
        "{type: object, properties: {delete_children: {type: boolean}}}",
    ),
}
