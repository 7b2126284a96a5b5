"""How the management API reads a request: a JSON object body, and a strict query string.

Owns the body rules (``Content-Type: application/json``, which a cross-site form cannot send; a
size bound; an object or nothing) and the query rules of the management endpoints (only their own
parameters, each at most once, bounded, no NUL). Both raise ``BadParameter`` (answered with 400).
Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request

from console.actors import refuse_cross_site
from management.operations import MAX_IMPORT_CHARS, JsonBody
from management.params import BadParameter

MAX_BODY_BYTES = MAX_IMPORT_CHARS + 64 * 1024
MAX_QUERY_VALUE_CHARS = 512


async def read_json_body(request: Request) -> JsonBody:
    """A request's JSON object body (empty: ``{}``).

    Raises:
        BadParameter: not JSON, not an object, too large, or not sent as application/json.
        HTTPException: 403 for a browser's cross-site request.
    """
    refuse_cross_site(request)
    content_type = request.headers.get("content-type")
    if content_type is not None and (
        content_type.split(";")[0].strip().lower() != "application/json"
    ):
        raise BadParameter("body", "send it as Content-Type: application/json")
    raw = await request.body()
    if not raw.strip():
        return JsonBody({})
    if len(raw) > MAX_BODY_BYTES:
        raise BadParameter("body", f"at most {MAX_BODY_BYTES} bytes")
    if content_type is None:
        raise BadParameter("body", "send it as Content-Type: application/json")
    try:
        return JsonBody(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        raise BadParameter("body", f"not JSON: {exc}") from None


def no_query(request: Request) -> None:
    """Refuse any query parameter.

    Raises:
        BadParameter: the request has one.
    """
    single_params(request, ())


def single_params(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query's non-empty values by name.

    Raises:
        BadParameter: a parameter not ``allowed``, given twice, too long or holding a NUL.
    """
    values: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise BadParameter(name, "is not a parameter of this endpoint")
        if name in values:
            raise BadParameter(name, "give it at most once")
        if "\x00" in value or len(value) > MAX_QUERY_VALUE_CHARS:
            raise BadParameter(name, f"at most {MAX_QUERY_VALUE_CHARS} characters, no NUL")
        if value != "":
            values[name] = value
    return values


def int_param(query: dict[str, str], name: str, default: int, high: int) -> int:
    """An integer from 1 to ``high`` (absent: ``default``).

    Raises:
        BadParameter: anything else.
    """
    value = query.get(name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= high:
        raise BadParameter(name, f"an integer from 1 to {high}")
    return int(value)
