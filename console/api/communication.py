"""The management API's view of a workflow's communication: its events, notifications and
streams, asked of a live executor (not audited).

Owns the three routes (``GET .../workflows/{workflow_id}/{events,notifications,streams}``) and
their OpenAPI operations, from one template. Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.api.actions import WORKFLOW_PATH
from console.api.answers import ActionAnswers
from console.api.inputs import no_query
from management.actions import Actions
from management.params import parse_workflow_path
from streams.records import RequestKind

COMMUNICATION: dict[str, RequestKind] = {
    "events": RequestKind.GET_EVENTS,
    "notifications": RequestKind.GET_NOTIFICATIONS,
    "streams": RequestKind.GET_STREAMS,
}
"""What a workflow's communication holds, and the executor request that reads each part."""


class CommunicationApi:
    """The communication endpoints.

    Args:
        actions: asks executors.
    """

    def __init__(self, actions: Actions) -> None:
        self._answers = ActionAnswers(actions)

    def routes(self) -> list[BaseRoute]:
        return [
            Route(f"{WORKFLOW_PATH}/{name}", self._endpoint(name), methods=["GET"])
            for name in COMMUNICATION
        ]

    def _endpoint(self, name: str) -> Any:
        kind = COMMUNICATION[name]

        async def endpoint(request: Request) -> Response:
            app, workflow_id = parse_workflow_path(request.path_params)
            no_query(request)
            return await self._answers.query(app, kind, workflow_id)

        endpoint.__doc__ = f"""A workflow's {name}, asked of a live executor.

        ---
        summary: Get a workflow's {name}
        tags: [workflows]
        parameters:
          - $ref: "#/components/parameters/App"
          - $ref: "#/components/parameters/WorkflowId"
        errors: [invalid, unknown, live]
        responses:
          "200":
            description: '{{"{name}": [...]}}'
            content:
              application/json:
                schema: {{type: object}}
        """
        endpoint.__name__ = f"workflow_{name}"
        return endpoint
