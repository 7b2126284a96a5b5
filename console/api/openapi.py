"""The console API's OpenAPI 3.1 document: Starlette's ``SchemaGenerator`` over the API routes.

Each route documents itself in YAML after a ``---`` in its endpoint's docstring
(``console.api.reads``), listing only what is its own: its parameters, body and success answers,
and the kinds of errors it may answer (``errors: [audited, live]``, see ``ERRORS``). This module
adds what those share: the response schemas, derived from the ``TypedDict``s of
``console.serialize`` so the document cannot drift from what the API returns, the reusable
parameters, and each endpoint's error responses from its kinds. Pure apart from Starlette's
generator: no store, no I/O.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

from starlette.routing import BaseRoute
from starlette.schemas import SchemaGenerator

from console import serialize
from console.access.rules import required_role
from console.access.sessions import SESSION_COOKIE
from console.api import admin, management_json
from management.params import DEFAULT_LIMIT, MAX_LIMIT, SORT_VALUES, STATUS_VALUES
from store.roles import Role

OPENAPI_VERSION = "3.1.0"

RESPONSE_TYPES: tuple[Any, ...] = (
    serialize.AppJson,
    serialize.ExecutorJson,
    serialize.RecoveryJson,
    serialize.WorkflowPageJson,
    serialize.WorkflowDetailJson,
    serialize.StepsJson,
    serialize.QueueJson,
    serialize.QueuedPageJson,
    serialize.ErrorJson,
    serialize.HealthJson,
    management_json.ActionJson,
    management_json.ActionErrorJson,
    management_json.BulkPreviewJson,
    management_json.BulkJobJson,
    management_json.AuditPageJson,
    admin.UserJson,
    admin.TokenJson,
    admin.KeyJson,
)
"""Every top-level response shape; nested ``TypedDict``s are added as they are met."""


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorJson"}}},
    }


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_TIME = {"type": "string", "examples": ["2024-05-01T12:00:00Z", "1714564800000"]}

PARAMETERS: dict[str, dict[str, Any]] = {
    "App": {
        "name": "app",
        "in": "path",
        "required": True,
        "description": "The app name: 1 to 128 characters of letters, digits, '_', '.', '-'.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,128}$"},
    },
    "WorkflowId": {
        "name": "workflow_id",
        "in": "path",
        "required": True,
        "description": "The workflow's id.",
        "schema": {"type": "string"},
    },
    "Status": {
        **_query(
            "status",
            "Only these statuses; repeat the parameter or separate values with commas.",
            {"type": "array", "items": {"type": "string", "enum": list(STATUS_VALUES)}},
        ),
        "style": "form",
        "explode": True,
    },
    "Name": _query("name", "Workflow function name, exactly.", {"type": "string"}),
    "WorkflowIdPrefix": _query(
        "workflow_id_prefix", "Workflow ids starting with this.", {"type": "string"}
    ),
    "Queue": _query("queue", "Queue name, exactly.", {"type": "string"}),
    "ApplicationVersion": _query(
        "application_version", "Application version, exactly.", {"type": "string"}
    ),
    "ExecutorId": _query("executor_id", "Executor id, exactly.", {"type": "string"}),
    "CreatedAfter": _query(
        "created_after", "Created at or after (ISO 8601 or epoch ms; no zone is UTC).", _TIME
    ),
    "CreatedBefore": _query(
        "created_before", "Created before (ISO 8601 or epoch ms; no zone is UTC).", _TIME
    ),
    "Limit": _query(
        "limit",
        "Page size.",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    ),
    "Offset": _query(
        "offset",
        "Rows to skip.",
        {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999, "default": 0},
    ),
    "Cursor": _query(
        "cursor", "A previous page's next_cursor (instead of offset).", {"type": "string"}
    ),
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Acts once per key and app: a repeat answers the first outcome.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$"},
    },
    "Since": _query("since", "At or after (ISO 8601 or epoch ms).", _TIME),
    "Until": _query("until", "Before (ISO 8601 or epoch ms).", _TIME),
    "Sort": _query(
        "sort",
        "Order by creation time.",
        {"type": "string", "enum": list(SORT_VALUES), "default": SORT_VALUES[0]},
    ),
}

RESPONSES: dict[str, dict[str, Any]] = {
    "ActionError": {
        "description": (
            "The action did not succeed: 400 invalid, 409 no executor of a suitable version "
            "(or the Idempotency-Key was used for another action, or the executor runs in "
            "metadata-only mode and refuses data requests), 501 the executors' DBOS client does "
            "not support the request (the error names the client and version), 502 the "
            "executor's error, 503 no executor connected, 504 timed out. The audited record is "
            "in action."
        ),
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/ActionErrorJson"},
                        {"$ref": "#/components/schemas/ErrorJson"},
                    ]
                }
            }
        },
    },
    "Unauthorized": _error(
        "No credentials, or an unknown, revoked or expired token or session: send "
        "Authorization: Bearer <token> (`baton tokens create NAME --role ROLE`) or sign in."
    ),
    "Forbidden": _error(
        "The token's or user's role is below the operation's x-required-role; the attempt is "
        "audited (access.denied)."
    ),
    "BadRequest": _error("A parameter is invalid; the message names it and what is allowed."),
    "NotFound": _error("No such workflow (neither a live executor nor the store knows it)."),
    "InternalError": _error("The console failed; the error text is logged, never sent."),
}

ERRORS: dict[str, dict[str, str]] = {
    "invalid": {"400": "BadRequest"},
    "unknown": {"404": "NotFound"},
    "store": {"500": "InternalError"},
    "audited": {"400": "ActionError", "409": "ActionError"},
    "live": {
        "409": "ActionError",
        "501": "ActionError",
        "502": "ActionError",
        "503": "ActionError",
        "504": "ActionError",
    },
}
"""The error responses of each kind of endpoint, by status (names in ``RESPONSES``).

- ``invalid``: a path or query parameter may be invalid.
- ``unknown``: it names a workflow, job or schedule that may not exist.
- ``store``: it reads the store, which may fail.
- ``audited``: an audited action of an actor, under an Idempotency-Key (its 400 also covers
  invalid parameters and bodies; 409: the key was used for another action, or no executor of a
  suitable version).
- ``live``: carried out or answered by a live executor: 409 it runs in DBOS's metadata-only mode
  and refuses a data request (export, import, events, notifications, streams); 501 no connected
  executor's DBOS client supports the request (``gateway.clients``: a client known to lack the
  verb is not asked, one that answers "Unknown message type" is taken at its word), and the
  error names the client and version, e.g. "the Java client 1.1.0-m6 of executor X does not
  support rewind_workflow; ..."; 502 its error; 503 none connected; 504 timed out.
"""


def error_responses(kinds: Sequence[str]) -> dict[str, dict[str, str]]:
    """The error responses (``$ref``s by status) of an endpoint of these kinds.

    Raises:
        ValueError: an unknown kind, or two kinds answering one status differently.
    """
    responses: dict[str, str] = {}
    for kind in kinds:
        if kind not in ERRORS:
            raise ValueError(f"unknown kind of errors {kind!r}: use one of {', '.join(ERRORS)}")
        for status, name in ERRORS[kind].items():
            if responses.setdefault(status, name) != name:
                raise ValueError(
                    f"errors {list(kinds)} answer {status} both as {name} and {responses[status]}"
                )
    return {
        status: {"$ref": f"#/components/responses/{name}"} for status, name in responses.items()
    }


def with_errors(operation: Mapping[str, Any]) -> dict[str, Any]:
    """An operation as parsed from a docstring, its ``errors`` kinds turned into responses
    (all responses in status order)."""
    own = dict(operation)
    kinds = own.pop("errors", [])
    if not kinds:
        return own
    errors = error_responses(kinds)
    responses = dict(own.get("responses", {}))
    both = sorted(set(responses) & set(errors))
    if both:
        raise ValueError(f"status {both[0]} is both written out and of the errors {kinds}")
    responses.update(errors)
    own["responses"] = dict(sorted(responses.items()))
    return own


class _Generator(SchemaGenerator):
    """Starlette's generator, adding each operation's error responses from its kinds."""

    def parse_docstring(self, func_or_method: Callable[..., Any]) -> dict[str, Any]:
        return with_errors(super().parse_docstring(func_or_method))


BULK_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["action"],
    "properties": {
        "action": {
            "type": "string",
            "enum": ["cancel", "resume", "restart", "rewind", "delete", "fork_from_failure"],
        },
        "workflow_ids": {"type": "array", "items": {"type": "string"}, "maxItems": 10_000},
        "filter": {
            "type": "object",
            "description": "The workflows list's filters (status may be a list).",
            "properties": {
                "status": {
                    "type": "array",
                    "items": {"type": "string", "enum": list(STATUS_VALUES)},
                },
                "name": {"type": "string"},
                "workflow_id_prefix": {"type": "string"},
                "queue": {"type": "string"},
                "application_version": {"type": "string"},
                "executor_id": {"type": "string"},
                "created_after": _TIME,
                "created_before": _TIME,
            },
            "additionalProperties": False,
        },
        "dry_run": {"type": "boolean"},
        "cancel_children": {"type": "boolean"},
        "delete_children": {"type": "boolean"},
        "queue_name": {"type": "string"},
        "application_version": {"type": "string"},
        "start_step": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
    },
    "additionalProperties": False,
}
"""The body of ``POST /api/v1/apps/{app}/bulk`` (``management.bulk.parse_bulk_body`` reads it)."""


def json_schema(tp: Any, components: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a Python type used in ``console.serialize``.

    ``TypedDict``s become ``$ref``s, and their schemas are added to ``components`` (once).

    Raises:
        TypeError: a type this translation does not know.
    """
    if is_typeddict(tp):
        name = tp.__name__
        if name not in components:
            components[name] = {}  # placeholder: a recursive reference must not loop
            hints = get_type_hints(tp)
            components[name] = {
                "type": "object",
                "properties": {key: json_schema(hint, components) for key, hint in hints.items()},
                "required": sorted(tp.__required_keys__),  # total=False keys may be absent
                "additionalProperties": False,
            }
        return {"$ref": f"#/components/schemas/{name}"}
    return _plain_schema(tp, components)


def _plain_schema(tp: Any, components: dict[str, Any]) -> dict[str, Any]:
    origin, args = get_origin(tp), get_args(tp)
    scalars: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if tp in scalars:
        return {"type": scalars[tp]}
    if tp is type(None):
        return {"type": "null"}
    if tp is Any:
        return {}
    if origin is Literal:
        return {"type": "string", "enum": list(args)}
    if origin in (Union, types.UnionType):
        return {"anyOf": [json_schema(arg, components) for arg in args]}
    if origin is list:
        return {"type": "array", "items": json_schema(args[0], components)}
    if origin is dict:
        values = json_schema(args[1], components)
        return {"type": "object", "additionalProperties": values or True}
    raise TypeError(f"no JSON schema for {tp!r}")


def base_schema() -> dict[str, Any]:
    """The document's fixed part: info, components; the generator adds the paths."""
    schemas: dict[str, Any] = {}
    for tp in RESPONSE_TYPES:
        json_schema(tp, schemas)
    schemas["BulkRequest"] = BULK_REQUEST
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Baton console API",
            "version": "1",
            "description": (
                "Executors, workflows, steps, queues and recoveries of the DBOS apps Baton "
                'conducts. Every error body is {"error": "<message>"}.'
            ),
        },
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "parameters": PARAMETERS,
            "responses": RESPONSES,
            "securitySchemes": SECURITY_SCHEMES,
        },
        "security": [{name: []} for name in SECURITY_SCHEMES],
    }


SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (`baton tokens create NAME --role viewer|operator|admin`).",
    },
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "A signed-in user's session (the dashboard's sign-in page).",
    },
}

_PATH_PARAMETER = re.compile(r"{[^}]+}")


def with_access(path: str, method: str, operation: Mapping[str, Any]) -> dict[str, Any]:
    """An operation with who may call it (``console.access.rules``): anonymous ones have no
    security; the others state ``x-required-role`` and answer 401, and 403 when a signed-in
    caller's role may be too low."""
    role = required_role(method.upper(), _PATH_PARAMETER.sub("x", path))
    own = dict(operation)
    if role is None:
        own["security"] = []
        return own
    own["x-required-role"] = role.value
    responses = {**own.get("responses", {}), "401": {"$ref": "#/components/responses/Unauthorized"}}
    if role is not Role.VIEWER:
        responses["403"] = {"$ref": "#/components/responses/Forbidden"}
    own["responses"] = dict(sorted(responses.items()))
    return own


def openapi_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document of ``routes`` (those whose endpoint docstring has a YAML part)."""
    document = _Generator(base_schema()).get_schema(routes=list(routes))
    document["paths"] = {
        path: {method: with_access(path, method, op) for method, op in operations.items()}
        for path, operations in document.get("paths", {}).items()
    }
    return document
