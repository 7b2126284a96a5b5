"""How the console answers the management engine's failures over HTTP.

Owns the HTTP status of each ``FailureReason`` (the engine knows why an action failed, not HTTP),
the 404 of a workflow that neither a live executor nor the store knows, and the status of a form
page shown again with an error. Shared by the API and the dashboard. Must not import the gateway,
Faust or Kafka.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException

from management.outcomes import ActionFailed, FailureReason
from streams.ids import AppName, WorkflowId

_HTTP_STATUS = {
    FailureReason.BAD_REQUEST: 400,
    FailureReason.NO_EXECUTOR: 503,
    FailureReason.NO_SUITABLE_EXECUTOR: 409,
    FailureReason.EXECUTOR_ERROR: 502,
    FailureReason.TIMEOUT: 504,
    FailureReason.VANISHED: 503,
    FailureReason.UNAVAILABLE: 503,
    FailureReason.KEY_REUSED: 409,
    FailureReason.PAYLOAD_PRIVACY: 409,
    FailureReason.UNSUPPORTED: 501,
    FailureReason.METADATA_ONLY: 409,
}


def failure_status(reason: FailureReason) -> int:
    """The HTTP status of an action that failed for ``reason``."""
    return _HTTP_STATUS[reason]


def error_status(error: Exception | None) -> int:
    """The status of a form page shown (again) with ``error``: 200 without one, a failed
    action's own status, else 400 (a bad field)."""
    if error is None:
        return 200
    if isinstance(error, ActionFailed):
        return failure_status(error.reason)
    return 400


def unknown_workflow(app: AppName, workflow_id: WorkflowId) -> HTTPException:
    """The 404 of a workflow that neither a live executor nor the store knows."""
    return HTTPException(404, f"no workflow {workflow_id[:128]!r} in app {app!r}")
