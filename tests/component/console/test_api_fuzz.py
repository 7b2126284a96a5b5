"""Property-based fuzzing of the console's JSON API from its own OpenAPI document (Schemathesis),
over a real SQLite store seeded by ``seed.py``.

Schemathesis sends every documented operation schema-valid and schema-violating requests (its
examples, coverage and fuzzing phases): each answer must have a documented status code and match
the documented schema, none may be a 5xx, and every 4xx must be JSON ``{"error": "<message>"}``.
Explicit Hypothesis tests add what the schema cannot say: hostile values for each list parameter
(unicode, NUL, huge and negative numbers, NaN, blanks, forged cursors, odd instants) must be listed
or refused with a 400 that names the parameter, and out-of-range or non-integer pages and values
outside an enum must be refused.

The document fuzzed is the one the console serves (``test_the_fuzzed_document_is_the_served_one``),
built at import from a store that is never opened. Schemathesis runs an ASGI app on its own event
loop thread, so the store must be opened on that loop: ``SeededConsole`` opens its store in its ASGI
lifespan, which Schemathesis starts on a test's first request and ends after the test. Here the
store is a fresh SQLite one in a temporary directory, seeded at startup.

The same tests run over PostgreSQL in ``tests/integration/test_console_fuzz_postgres.py``, which
imports them: the hypothesis tests get the schema to call from the ``fuzz_schema`` fixture, and
``conformance_test`` builds the Schemathesis test for a given schema.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import pytest
import schemathesis
from asgi_lifespan import LifespanManager
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import AuthContext, Case, Response
from schemathesis.specs.openapi.schemas import OpenApiSchema
from starlette.types import ASGIApp, Receive, Scope, Send

from console.api.openapi import openapi_document
from console.api.reads import OPENAPI_PATH
from console.app import create_app
from management.params import MAX_LIMIT, QUEUED_PARAMS, SORT_VALUES, WORKFLOW_PARAMS
from store.database import Store, sqlite_url
from tests.component.console.channel import FakeChannel
from tests.component.console.seed import ORDERS, seed
from tests.console_access import TEST_ACCESS, token_for

FUZZ_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    # Generating from the document's schemas may take a while on a slow runner; it is not flaky.
    suppress_health_check=[HealthCheck.too_slow],
)


StoreOpener = Callable[[], AbstractAsyncContextManager[Store]]
"""Opens (and closes) the store the console answers from, on the loop that calls it."""


@asynccontextmanager
async def seeded_sqlite_store() -> AsyncIterator[Store]:
    """A new SQLite store in a new temporary directory, seeded; removed on exit."""
    with TemporaryDirectory(prefix="baton-fuzz-") as tmp:
        async with Store(sqlite_url(Path(tmp) / "baton.db")) as store:
            await seed(store)
            yield store


STAND_IN_TOKEN = "fuzzer-admin"
"""What fuzzed calls send as their bearer token; ``SeededConsole`` swaps it for a real one."""
STAND_IN_AUTHORIZATION = {"Authorization": f"Bearer {STAND_IN_TOKEN}"}


class SeededConsole:
    """The console over a store ``open_store`` opens in the ASGI lifespan, and closes at its end.

    With ``seeded_sqlite_store`` each lifespan startup opens a new store in a new temporary
    directory, so a test never sees another test's store.
    """

    def __init__(self, open_store: StoreOpener = seeded_sqlite_store) -> None:
        self._open_store = open_store
        self._app: ASGIApp | None = None
        self._token: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if self._app is None or self._token is None:
            raise RuntimeError("the console's lifespan has not started")
        if scope["type"] == "http":
            # The fuzzer's stand-in credential becomes the store's real admin token.
            stand_in = f"Bearer {STAND_IN_TOKEN}".encode()
            real = f"Bearer {self._token}".encode()
            headers = [
                (name, real if name == b"authorization" and value == stand_in else value)
                for name, value in scope["headers"]
            ]
            scope = {**scope, "headers": headers}
        await self._app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        async with AsyncExitStack() as stack:
            message = await receive()
            assert message["type"] == "lifespan.startup"
            try:
                store = await stack.enter_async_context(self._open_store())
                # Executors played in memory: actions on the seeded app reach one and succeed.
                app = create_app(
                    store, channel=FakeChannel(), action_timeout_s=0.2, access=TEST_ACCESS
                )
                # The console's own lifespan (its background work) runs inside this one.
                running = (await stack.enter_async_context(LifespanManager(app))).app
                self._token = await token_for(store)
                self._app = running
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                raise
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
            self._app = None
            self._token = None
        await send({"type": "lifespan.shutdown.complete"})


def console_document() -> dict[str, Any]:
    """The console's OpenAPI document, from an app over a store that is never opened."""
    app = create_app(Store(sqlite_url(Path("never-opened.db"))), access=TEST_ACCESS)
    return openapi_document(app.routes)


WORKFLOWS_PATH = "/api/v1/apps/{app}/workflows"
QUEUED_PATH = "/api/v1/apps/{app}/queued-workflows"
AUDIT_PATH = "/api/v1/audit"
LIST_PATHS = (WORKFLOWS_PATH, QUEUED_PATH)
DOCUMENT = console_document()
DOCUMENTED_PARAMETERS: dict[str, Any] = DOCUMENT["components"]["parameters"]

LIVE_PATHS = (
    r"/(cancel|resume|restart|fork|rewind|delete|export|events|notifications|streams|import|bulk"
    r"|schedules|versions|latest|\{verb\}|\{job_id\})$"
)
"""Operations that need a live executor (or refuse by state): see CONFIG."""
ACTION_ERROR_STATUSES = (501, 502, 503, 504)

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20240501,
        "operations": [
            # The lists' parameters follow rules a JSON schema cannot state, so their answers are
            # checked against the document but not judged "should have been accepted/rejected"
            # by schema validity; the explicit tests below judge them instead. Rules between
            # parameters: created_after < created_before; cursor or offset, not both. Lenient by
            # design (management.params): an empty or blank value counts as absent (as an HTML form
            # sends it), values are trimmed, statuses are case-insensitive and comma-separated.
            {
                "include-path": [WORKFLOWS_PATH, QUEUED_PATH, AUDIT_PATH],
                "checks": {
                    "positive_data_acceptance": {"enabled": False},
                    "negative_data_rejection": {"enabled": False},
                },
            },
            # Actions and live reads answer 501-504 by design when no executor of the app
            # can (documented ActionError answers; ``assert_sound`` checks their bodies), and
            # 4xx for valid-looking requests the state refuses (an unknown job, a reused key).
            {
                "include-path-regex": LIVE_PATHS,
                "checks": {
                    "not_a_server_error": {"enabled": False},
                    "positive_data_acceptance": {"enabled": False},
                },
            },
        ],
    }
)


def console_schema(open_store: StoreOpener) -> OpenApiSchema:
    """The document to fuzz, sent to the console over the store ``open_store`` opens."""
    fuzzed = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
    console = SeededConsole(open_store)
    fuzzed.app = console

    class AdminToken:
        """Every fuzzed call carries the admin token of the console's store (as a stand-in the
        console swaps for it): the fuzzer explores the API, not sign-in (``test_access.py``
        does). Schemathesis's ``ignored_auth`` check also sends each operation without it and
        expects a 401."""

        def get(self, case: Case[Any], context: AuthContext) -> str:
            return STAND_IN_TOKEN

        def set(self, case: Case[Any], data: str, context: AuthContext) -> None:
            case.headers["Authorization"] = f"Bearer {data}"

    fuzzed.auth.auth(refresh_interval=None)(AdminToken)
    return fuzzed


schema = console_schema(seeded_sqlite_store)


@pytest.fixture(scope="module")
def fuzz_schema() -> OpenApiSchema:
    """The schema the hypothesis tests call; a module reusing them overrides it."""
    return schema


def assert_error_body(response: Response) -> None:
    """An error answer is JSON ``{"error": "<non-empty message>"}`` (an action's error may add
    the audited ``action``)."""
    assert response.headers.get("content-type") == ["application/json"], response.headers
    body = response.json()
    assert isinstance(body, dict), body
    assert set(body) in ({"error"}, {"error", "action"}), body
    assert isinstance(body["error"], str), body
    assert body["error"].strip(), body


def assert_sound(response: Response, *, live: bool = False) -> None:
    """No 5xx (but an action's documented 501-504 when ``live``); every error has a body."""
    allowed = ACTION_ERROR_STATUSES if live else ()
    assert response.status_code < 500 or response.status_code in allowed, (
        response.status_code,
        response.text,
    )
    if response.status_code >= 400:
        assert_error_body(response)


async def test_the_fuzzed_document_is_the_served_one(client: httpx.AsyncClient) -> None:
    response = await client.get(OPENAPI_PATH)
    assert response.status_code == 200
    assert response.json() == DOCUMENT


def conformance_test(fuzzed: OpenApiSchema) -> Callable[..., None]:
    """The test that fuzzes every operation of ``fuzzed``, one test per operation."""

    @FUZZ_SETTINGS
    def test_every_operation_conforms_to_its_document(case: Case[Any]) -> None:
        response = case.call_and_validate()
        assert_sound(response, live=re.search(LIVE_PATHS, case.operation.path) is not None)

    parametrized: Callable[..., None] = fuzzed.parametrize()(
        test_every_operation_conforms_to_its_document
    )
    return parametrized


test_every_operation_conforms_to_its_document = conformance_test(schema)


def call(
    fuzzed: OpenApiSchema, path: str, path_parameters: dict[str, str], query: dict[str, list[str]]
) -> Response:
    """GET a documented operation with hand-made parameters; the answer must still conform."""
    case = fuzzed[path]["GET"].Case(
        path_parameters=path_parameters, query=query, headers=STAND_IN_AUTHORIZATION
    )
    response = case.call_and_validate()
    assert_sound(response)
    return response


def assert_rejects(response: Response, parameter: str) -> None:
    """A 400 names the offending parameter, as the document promises."""
    assert response.status_code == 400, (response.status_code, response.text)
    assert f"invalid parameter {parameter!r}" in response.json()["error"], response.text


# Values a query parameter's schema cannot rule out, or that a parser may trip on.
HOSTILE = (
    "",
    " ",
    "\t",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "null",
    "true",
    "-1",
    "0",
    "-0",
    "+1",
    "1.5",
    "1e3",
    "0x10",
    "1_000",
    "9" * 18,
    "9" * 19,
    "-" + "9" * 40,
    "\uff11\uff12",  # fullwidth "12": int() accepts it
    "\u0661\u0662",  # Arabic-Indic "12": int() accepts it too
    "\x00",
    "a\x00b",
    "\u202e",
    "😀",
    "%",
    "_",
    "%25",
    "' OR 1=1 --",
    "a,b,,",
    ",",
    "success,error",
    "x" * 513,  # one more than any text filter may hold
    "2024-13-01",
    "2024-02-30T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999",
    "2024-05-01T12:00:00+25:00",
    "2024-05-01T12:00:00Z",
    "1714564800000",
    "999999999999999",
    "9999999999999999",
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


def forge_cursor(value: object) -> str:
    """A cursor as the store encodes one (unpadded URL-safe base64 of JSON), of any value."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


cursors = st.one_of(
    # The store's own shape, [sort, created_at_ms, workflow_id], with hostile members.
    st.tuples(
        st.sampled_from(SORT_VALUES),
        st.integers(min_value=-(2**70), max_value=2**70) | st.booleans(),
        st.text(max_size=16),
    ).map(lambda parts: forge_cursor(list(parts))),
    json_values.map(forge_cursor),
    st.text(max_size=32),
)
hostile_values = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=64))


@FUZZ_SETTINGS
@given(name=st.sampled_from(WORKFLOW_PARAMS), value=st.one_of(hostile_values, cursors))
def test_a_hostile_workflow_parameter_is_listed_or_named(
    fuzz_schema: OpenApiSchema, name: str, value: str
) -> None:
    response = call(fuzz_schema, WORKFLOWS_PATH, {"app": ORDERS}, {name: [value]})
    if response.status_code != 200:
        assert_rejects(response, name)
        return
    page = response.json()
    assert 1 <= page["limit"] <= MAX_LIMIT
    assert page["offset"] >= 0


@FUZZ_SETTINGS
@given(name=st.sampled_from(QUEUED_PARAMS), value=hostile_values)
def test_a_hostile_queued_parameter_is_listed_or_named(
    fuzz_schema: OpenApiSchema, name: str, value: str
) -> None:
    response = call(fuzz_schema, QUEUED_PATH, {"app": ORDERS}, {name: [value]})
    if response.status_code != 200:
        assert_rejects(response, name)


def queries(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, list[str]]]:
    """Several parameters at once, some repeated, some unknown."""
    name = st.one_of(st.sampled_from(names), st.text(min_size=1, max_size=16))
    return st.dictionaries(name, st.lists(hostile_values, min_size=1, max_size=2), max_size=4)


@FUZZ_SETTINGS
@given(query=queries(WORKFLOW_PARAMS))
def test_hostile_workflow_queries_get_a_clear_answer(
    fuzz_schema: OpenApiSchema, query: dict[str, list[str]]
) -> None:
    response = call(fuzz_schema, WORKFLOWS_PATH, {"app": ORDERS}, query)
    assert response.status_code in (200, 400)


@FUZZ_SETTINGS
@given(query=queries(QUEUED_PARAMS))
def test_hostile_queued_queries_get_a_clear_answer(
    fuzz_schema: OpenApiSchema, query: dict[str, list[str]]
) -> None:
    response = call(fuzz_schema, QUEUED_PATH, {"app": ORDERS}, query)
    assert response.status_code in (200, 400)


@FUZZ_SETTINGS
@given(app=st.just(ORDERS) | hostile_values, workflow_id=hostile_values)
def test_hostile_path_parameters_get_a_clear_answer(
    fuzz_schema: OpenApiSchema, app: str, workflow_id: str
) -> None:
    for path in (
        "/api/v1/apps/{app}/workflows/{workflow_id}",
        "/api/v1/apps/{app}/workflows/{workflow_id}/steps",
    ):
        response = call(fuzz_schema, path, {"app": app, "workflow_id": workflow_id}, {})
        assert response.status_code in (200, 400, 404)


@FUZZ_SETTINGS
@given(
    path=st.sampled_from(LIST_PATHS),
    name=st.sampled_from(("limit", "offset")),
    number=st.integers(min_value=-(10**17), max_value=10**17) | st.integers(-5, MAX_LIMIT + 5),
)
def test_a_limit_or_offset_outside_its_documented_range_is_named(
    fuzz_schema: OpenApiSchema, path: str, name: str, number: int
) -> None:
    documented = DOCUMENTED_PARAMETERS[name.capitalize()]["schema"]
    response = call(fuzz_schema, path, {"app": ORDERS}, {name: [str(number)]})
    if documented["minimum"] <= number <= documented.get("maximum", number):
        assert response.status_code == 200
        assert response.json()[name] == number
    else:
        assert_rejects(response, name)


@FUZZ_SETTINGS
@given(path=st.sampled_from(LIST_PATHS), name=st.sampled_from(("limit", "offset")), value=st.text())
def test_a_limit_or_offset_that_is_no_integer_is_named(
    fuzz_schema: OpenApiSchema, path: str, name: str, value: str
) -> None:
    response = call(fuzz_schema, path, {"app": ORDERS}, {name: [value]})
    if not value.strip():
        assert response.status_code == 200  # blank is absent
    elif not re.fullmatch(r"-?[0-9]+", value.strip()):
        assert_rejects(response, name)


@FUZZ_SETTINGS
@given(name=st.sampled_from(("status", "sort")), value=st.text())
def test_a_value_outside_its_documented_enum_is_named(
    fuzz_schema: OpenApiSchema, name: str, value: str
) -> None:
    documented = DOCUMENTED_PARAMETERS[name.capitalize()]["schema"]
    allowed = documented["items"]["enum"] if name == "status" else documented["enum"]
    response = call(fuzz_schema, WORKFLOWS_PATH, {"app": ORDERS}, {name: [value]})
    if name == "status":  # comma-separated and case-insensitive
        parts = [part.strip().upper() for part in value.split(",")]
    else:
        parts = [value.strip()]
    if all(part in allowed or not part for part in parts):
        assert response.status_code == 200
    else:
        assert_rejects(response, name)


@pytest.mark.parametrize("path", LIST_PATHS)
def test_the_largest_documented_offset_is_accepted(fuzz_schema: OpenApiSchema, path: str) -> None:
    largest = DOCUMENTED_PARAMETERS["Offset"]["schema"].get("maximum", 10**18)
    response = call(fuzz_schema, path, {"app": ORDERS}, {"offset": [str(largest)]})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "query", "name"),
    [
        ("/api/v1/apps/{app}/workflows", {"name": ["a\x00b"]}, "name"),
        ("/api/v1/apps/{app}/workflows", {"workflow_id_prefix": ["\x00"]}, "workflow_id_prefix"),
        ("/api/v1/apps/{app}/queued-workflows", {"queue": ["x\x00"]}, "queue"),
    ],
)
def test_nul_in_a_text_parameter_is_a_bad_parameter(
    fuzz_schema: OpenApiSchema, path: str, query: dict[str, list[str]], name: str
) -> None:
    """PostgreSQL text cannot hold NUL: refused as bad input, never sent to the store (a 500)."""
    assert_rejects(call(fuzz_schema, path, {"app": ORDERS}, query), name)


def test_nul_in_a_workflow_id_or_its_cursor_is_a_bad_parameter(
    fuzz_schema: OpenApiSchema,
) -> None:
    assert_rejects(
        call(
            fuzz_schema,
            "/api/v1/apps/{app}/workflows/{workflow_id}",
            {"app": ORDERS, "workflow_id": "w\x00"},
            {},
        ),
        "workflow_id",
    )
    forged = base64.urlsafe_b64encode(b'["created_desc",0,"a\\u0000"]').decode().rstrip("=")
    assert_rejects(
        call(fuzz_schema, "/api/v1/apps/{app}/workflows", {"app": ORDERS}, {"cursor": [forged]}),
        "cursor",
    )
