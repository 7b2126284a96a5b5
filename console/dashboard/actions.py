"""The dashboard's actions on one workflow: cancel, resume, restart, fork, rewind and delete.

Owns their confirmation pages (``/apps/{app}/workflows/{id}/confirm?action=...``, reached through
the workflow page's route, whose ``{workflow_id:path}`` would otherwise swallow it) and their form
posts (``.../actions/{action}``), through the confirm-then-act flow of
``console.dashboard.confirmation``. Resume, restart, fork and rewind run on an executor of the
workflow's application version. Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.actors import require_same_origin
from console.dashboard.action_forms import WORKFLOW_VERBS, body_of, workflow_fields
from console.dashboard.confirmation import Confirmation, ConfirmFlow, choice
from console.dashboard.pages import Form
from console.dashboard.templating import path_segment
from management.actions import Actions
from management.operations import (
    VERSIONED_ACTIONS,
    Operation,
    WorkflowAction,
    workflow_operation,
)
from management.params import parse_workflow_path
from store.database import Store
from store.workflow_queries import get_workflow
from streams.ids import AppName, WorkflowId

CONFIRM_SUFFIX = "/confirm"
"""``/apps/{app}/workflows/{id}/confirm?action=...`` is the confirmation of an action on ``id``."""


class WorkflowActionPages:
    """Confirmations of, and form posts for, the actions on one workflow.

    Args:
        store: a started store (the workflow to describe).
        flow: the confirm-then-act flow.
        actions: carries out actions (and knows a workflow's application version).
    """

    def __init__(self, store: Store, flow: ConfirmFlow, actions: Actions) -> None:
        self._store = store
        self._flow = flow
        self._actions = actions

    def routes(self) -> list[BaseRoute]:
        """The form post (the confirmation is the workflow page's, see ``CONFIRM_SUFFIX``)."""
        return [
            Route(
                "/apps/{app}/workflows/{workflow_id:path}/actions/{action}",
                self.act_on_workflow,
                methods=["POST"],
                include_in_schema=False,
            )
        ]

    async def confirm_workflow(
        self, request: Request, app: AppName, workflow_id: WorkflowId
    ) -> Response:
        """``Cancel workflow X?``: the options, Confirm and Back."""
        action = choice(WorkflowAction, request.query_params.get("action"))
        form = Form(request.query_params.multi_items())
        return self._flow.show(request, await self._describe(app, workflow_id, action), form)

    async def act_on_workflow(self, request: Request) -> Response:
        """Carry out a confirmed action on one workflow, then show its outcome."""
        require_same_origin(request)
        app, workflow_id = parse_workflow_path(request.path_params)
        action = choice(WorkflowAction, request.path_params["action"])

        async def operation(form: Form) -> Operation:
            version = None
            if action in VERSIONED_ACTIONS:
                version = await self._actions.version_of(app, workflow_id)
            body = body_of(workflow_fields(action), form)
            return workflow_operation(action, workflow_id, body, stored_version=version)

        async def describe(form: Form) -> Confirmation:
            return await self._describe(app, workflow_id, action)

        base = f"/apps/{path_segment(app)}/workflows"
        done = base if action is WorkflowAction.DELETE else f"{base}/{path_segment(workflow_id)}"
        return await self._flow.act(
            request, app, operation=operation, describe=describe, done_url=done
        )

    async def _describe(
        self, app: AppName, workflow_id: WorkflowId, action: WorkflowAction
    ) -> Confirmation:
        async with self._store.sessionmaker.begin() as session:
            row = await get_workflow(session, app, workflow_id)
        details = (
            []
            if row is None
            else [
                ("Status", row.status),
                ("Name", row.name or "\u2014"),
                ("Version", row.application_version or "\u2014"),
            ]
        )
        detail_url = f"/apps/{path_segment(app)}/workflows/{path_segment(workflow_id)}"
        return Confirmation(
            app=app,
            tab="workflows",
            verb=WORKFLOW_VERBS[action],
            question=(f"{WORKFLOW_VERBS[action].label} workflow", workflow_id, "?"),
            details=details,
            fields=workflow_fields(action),
            post_url=f"{detail_url}/actions/{action.value}",
            back_url=detail_url,
        )
