"""How the management API answers an operator action or a live query.

Owns the answer's shape: an action's audited record as JSON (``replayed`` when its Idempotency-Key
had acted before), a live executor's answer as a JSON object, and a failure as
``{"error": ..., "action": <the audited record>}`` with the failure's HTTP status
(``console.failures``). Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from console.api.management_json import action_json
from console.failures import failure_status
from management.actions import Actions
from management.operations import Operation
from management.outcomes import ActionFailed
from streams.ids import AppName
from streams.records import RequestKind


def action_error(exc: ActionFailed) -> JSONResponse:
    """The answer to a failed action: its message, and the audited record when there is one."""
    status_code = failure_status(exc.reason)
    if exc.record is None:
        return JSONResponse({"error": str(exc)}, status_code=status_code)
    return JSONResponse(
        {"error": str(exc), "action": action_json(exc.record, replayed=False)},
        status_code=status_code,
    )


class ActionAnswers:
    """Runs actions and live queries and answers them.

    Args:
        actions: carries out and audits actions, and asks executors.
    """

    def __init__(self, actions: Actions) -> None:
        self._actions = actions

    async def run(
        self, request: Request, app: AppName, operation: Operation, actor: str
    ) -> Response:
        """Carry out ``operation`` under the request's Idempotency-Key; answer its record."""
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

    async def query(self, app: AppName, kind: RequestKind, workflow_id: str = "") -> Response:
        """Ask a live executor (not audited); answer what it said as a JSON object."""
        try:
            result = await self._actions.query(app, kind, workflow_id)
        except ActionFailed as exc:
            return action_error(exc)
        return JSONResponse(result if isinstance(result, dict) else {"result": result})
