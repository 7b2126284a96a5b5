"""The console's management API: the composition of its resource families.

Each family owns its routes and documents them for OpenAPI (YAML after ``---`` in each endpoint's
docstring, like ``console.api.reads``): actions on one workflow (``console.api.actions``), a
workflow's events, notifications and streams (``console.api.communication``), export and import
(``console.api.transfer``), bulk jobs (``console.api.bulk``), schedules and application versions
(``console.api.schedules``) and the audit log (``console.api.audit``). Statuses and bodies follow
docs/management-design.md. Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from console.actors import ActorResolver
from console.api.actions import WorkflowActionsApi
from console.api.audit import AuditApi
from console.api.bulk import BulkApi
from console.api.communication import CommunicationApi
from console.api.schedules import SchedulesApi
from console.api.transfer import TransferApi
from management.actions import Actions
from management.bulk import BulkJobs
from store.database import Store


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
        self._families = (
            WorkflowActionsApi(actions, actors),
            CommunicationApi(actions),
            TransferApi(actions, actors),
            BulkApi(bulk, actors),
            SchedulesApi(actions, actors),
            AuditApi(store),
        )

    def routes(self) -> list[BaseRoute]:
        """The routes; they go before the read routes (whose workflow path matches any tail)."""
        return [route for family in self._families for route in family.routes()]
