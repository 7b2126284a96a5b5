"""The management API's audit log: every operator action and recovery decision, newest first,
filtered and paged by a keyset cursor.

Owns the endpoint's query parameters and their limits; the query is ``store.audit.list_audit``.
Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from console.api.inputs import int_param, single_params
from console.api.management_json import audit_page_json
from management.params import BadParameter, parse_app, parse_time_ms
from store.audit import AuditFilter, list_audit
from store.database import Store
from store.models import utc_from_ms

AUDIT_PARAMS = ("app", "actor", "action", "target", "outcome", "since", "until", "limit", "cursor")
AUDIT_OUTCOMES = ("succeeded", "failed", "rejected", "stranded", "abandoned", "ok")
"""Operator actions end succeeded/failed/rejected; recovery steps also stranded/abandoned/ok."""
DEFAULT_AUDIT_LIMIT = 100
MAX_AUDIT_LIMIT = 500


class AuditApi:
    """The audit endpoint.

    Args:
        store: a started store.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def routes(self) -> list[BaseRoute]:
        return [Route("/api/v1/audit", self.audit, methods=["GET"])]

    async def audit(self, request: Request) -> Response:
        """The audit log: every operator action and recovery decision, newest first.

        ---
        summary: Audit log
        tags: [audit]
        parameters:
          - {name: app, in: query, required: false, schema: {type: string}}
          - {name: actor, in: query, required: false, schema: {type: string}}
          - name: action
            in: query
            required: false
            description: An action (workflow.cancel), or a prefix ending in '.' (workflow.).
            schema: {type: string}
          - {name: target, in: query, required: false, schema: {type: string}}
          - name: outcome
            in: query
            required: false
            schema: {type: string, enum: [succeeded, failed, rejected, stranded, abandoned, ok]}
          - $ref: "#/components/parameters/Since"
          - $ref: "#/components/parameters/Until"
          - $ref: "#/components/parameters/Limit"
          - $ref: "#/components/parameters/Cursor"
        errors: [invalid]
        responses:
          "200":
            description: One page of entries.
            content:
              application/json:
                schema: {$ref: "#/components/schemas/AuditPageJson"}
        """
        query = single_params(request, AUDIT_PARAMS)
        app = query.get("app")
        since = query.get("since")
        until = query.get("until")
        flt = AuditFilter(
            app=None if app is None else parse_app(app),
            actor=query.get("actor"),
            action=query.get("action"),
            target=query.get("target"),
            outcome=query.get("outcome"),
            since=None if since is None else utc_from_ms(parse_time_ms("since", since)),
            until=None if until is None else utc_from_ms(parse_time_ms("until", until)),
        )
        if flt.outcome is not None and flt.outcome not in AUDIT_OUTCOMES:
            raise BadParameter("outcome", f"one of {', '.join(AUDIT_OUTCOMES)}")
        limit = int_param(query, "limit", DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT)
        try:
            async with self._store.sessionmaker.begin() as session:
                page = await list_audit(session, flt, limit=limit, cursor=query.get("cursor"))
        except ValueError as exc:
            raise BadParameter("cursor", str(exc)) from None
        return JSONResponse(audit_page_json(page))
