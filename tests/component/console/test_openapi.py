"""The OpenAPI document documents every API route, its parameters and its responses."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from console.api.openapi import error_responses, json_schema, with_errors
from console.app import create_app
from management.params import QUEUED_PARAMS, WORKFLOW_PARAMS
from store.database import Store
from tests.console_access import TEST_ACCESS

_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def _api_routes(store: Store) -> list[tuple[str, str]]:
    """(path as documented, method) of every API route the app serves."""
    found: list[tuple[str, str]] = []
    for route in create_app(store, access=TEST_ACCESS).routes:
        if not isinstance(route, Route) or not route.path.startswith(("/api/v1", "/healthz")):
            continue
        path = _PATH_PARAM.sub(r"{\1}", route.path)
        methods = route.methods or {  # an endpoint class answers the methods it defines
            verb.upper()
            for verb in ("get", "post", "put", "delete")
            if hasattr(route.endpoint, verb)
        }
        found.extend((path, method.lower()) for method in methods if method != "HEAD")
    return found


def _resolve(document: dict[str, Any], node: Any) -> Any:
    if isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return target
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


async def test_every_api_route_is_documented(document: dict[str, Any], seeded_store: Store) -> None:
    assert document["openapi"].startswith("3.")
    routes = _api_routes(seeded_store)
    assert len(routes) == 31  # 9 observation routes, 19 management ones, 3 admin ones
    for path, method in routes:
        operation = document["paths"].get(path, {}).get(method)
        assert operation is not None, f"{method.upper()} {path} is not documented"
        assert operation["summary"]
        assert "200" in operation["responses"]
        declared = {
            _resolve(document, p)["name"]
            for p in operation.get("parameters", [])
            if _resolve(document, p)["in"] == "path"
        }
        assert declared == set(_PATH_PARAM.findall(path)), path
    documented = {(p, m) for p, ops in document["paths"].items() for m in ops}
    assert documented == set(routes), "the document lists a route the app does not serve"


async def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert _resolve(document, {"$ref": ref}), ref


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("/api/v1/apps/{app}/workflows", WORKFLOW_PARAMS),
        ("/api/v1/apps/{app}/queued-workflows", QUEUED_PARAMS),
    ],
)
async def test_query_parameters_match_what_the_parser_accepts(
    document: dict[str, Any], path: str, names: tuple[str, ...]
) -> None:
    parameters = [_resolve(document, p) for p in document["paths"][path]["get"]["parameters"]]
    assert {p["name"] for p in parameters if p["in"] == "query"} == set(names)


async def test_response_schemas_match_the_serialized_shapes(
    document: dict[str, Any], client: httpx.AsyncClient
) -> None:
    schemas = document["components"]["schemas"]
    page = (await client.get("/api/v1/apps/orders/workflows", params={"limit": 1})).json()
    assert set(schemas["WorkflowPageJson"]["required"]) == set(page)
    assert set(schemas["WorkflowSummaryJson"]["properties"]) == set(page["workflows"][0])
    detail = (await client.get("/api/v1/apps/orders/workflows/wf-001")).json()
    assert set(schemas["WorkflowDetailJson"]["properties"]) == set(detail)
    assert schemas["WorkflowDetailJson"]["properties"]["source"] == {
        "type": "string",
        "enum": ["live", "store"],
    }
    steps = (await client.get("/api/v1/apps/orders/workflows/wf-001/steps")).json()
    assert set(schemas["StepJson"]["properties"]) == set(steps["steps"][0])


def test_json_schema_of_nullable_and_nested_types() -> None:
    components: dict[str, Any] = {}
    assert json_schema(dict[str, int], components) == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
    }
    assert json_schema(str | None, components) == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    with pytest.raises(TypeError):
        json_schema(set[int], components)


async def test_action_endpoints_document_their_errors(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/v1/apps/{app}/workflows/{workflow_id}/cancel"]["post"]
    assert "errors" not in operation
    assert list(operation["responses"]) == [
        *("200", "400", "401", "403", "404", "409", "501", "502", "503", "504")
    ]
    assert operation["responses"]["409"] == {"$ref": "#/components/responses/ActionError"}
    assert operation["responses"]["501"] == {"$ref": "#/components/responses/ActionError"}
    rewind = document["paths"]["/api/v1/apps/{app}/workflows/{workflow_id}/rewind"]["post"]
    assert "501" in rewind["responses"]
    body = rewind["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"start_step", "application_version", "queue_name"}
    listing = document["paths"]["/api/v1/apps/{app}/schedules"]["get"]["responses"]
    assert list(listing) == ["200", "400", "401", "409", "501", "502", "503", "504"]
    assert listing["400"] == {"$ref": "#/components/responses/BadRequest"}
    for operations in document["paths"].values():
        assert all("errors" not in operation for operation in operations.values())


def test_error_kinds_become_responses_in_status_order() -> None:
    ok = {"description": "Done."}
    parsed = {"summary": "s", "errors": ["invalid", "store"], "responses": {"200": ok}}
    operation = with_errors(parsed)
    assert operation == {
        "summary": "s",
        "responses": {
            "200": ok,
            "400": {"$ref": "#/components/responses/BadRequest"},
            "500": {"$ref": "#/components/responses/InternalError"},
        },
    }
    assert with_errors({"responses": {"200": ok}}) == {"responses": {"200": ok}}
    with pytest.raises(ValueError, match="unknown kind of errors 'nope'"):
        with_errors({"errors": ["nope"]})
    with pytest.raises(ValueError, match="400"):
        error_responses(["invalid", "audited"])
    with pytest.raises(ValueError, match="status 503"):
        with_errors({"errors": ["live"], "responses": {"503": ok}})


async def test_every_operation_says_who_may_call_it(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {**schemes["bearerToken"], "type": "http", "scheme": "bearer"}
    assert schemes["sessionCookie"]["name"] == "baton_session"
    assert document["security"] == [{"bearerToken": []}, {"sessionCookie": []}]
    roles: dict[tuple[str, str], str] = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get("security") == []:
                assert "x-required-role" not in operation
                roles[path, method] = "anonymous"
                continue
            role = operation["x-required-role"]
            roles[path, method] = role
            responses = operation["responses"]
            assert responses["401"] == {"$ref": "#/components/responses/Unauthorized"}
            assert ("403" in responses) == (role != "viewer"), (path, method)
    assert roles["/healthz", "get"] == "anonymous"
    assert roles["/api/v1/apps", "get"] == "viewer"
    assert roles["/api/v1/apps/{app}/workflows/{workflow_id}/cancel", "post"] == "operator"
    assert roles["/api/v1/apps/{app}/workflows/{workflow_id}/export", "get"] == "operator"
    assert roles["/api/v1/admin/users", "get"] == "admin"
    assert roles["/api/v1/admin/apps/{app}/keys", "get"] == "admin"
