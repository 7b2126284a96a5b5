"""Query-parameter parsing for the console: strings from a URL into validated, typed queries.

Owns the names, defaults and limits of every query parameter the API and the dashboard accept, and
the one error they raise, ``BadParameter``, whose message names the parameter and what is allowed.
Pure: no HTTP, no store session, no clock. Empty values (``?name=``, as an HTML form sends them)
count as absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from store.models import WORKFLOW_ID_MAX_CHARS, validate_app_name
from store.paging import SortOrder
from store.workflow_queries import WorkflowFilter
from streams.exceptions import ConductorError
from streams.ids import AppName, WorkflowId
from streams.records import WorkflowState

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_WORKFLOW_ID_CHARS = WORKFLOW_ID_MAX_CHARS
MAX_TEXT_PARAM_CHARS = 512
"""Longer filter values cannot match any stored column; they are refused."""

STATUS_VALUES: tuple[str, ...] = tuple(state.value for state in WorkflowState)
SORT_VALUES: tuple[str, ...] = tuple(order.value for order in SortOrder)

_TEXT_FILTERS = ("name", "workflow_id_prefix", "queue", "application_version", "executor_id")
WORKFLOW_PARAMS: tuple[str, ...] = (
    "status",
    *_TEXT_FILTERS,
    "created_after",
    "created_before",
    "limit",
    "offset",
    "cursor",
    "sort",
)
"""Every parameter the workflow list accepts (API and dashboard)."""

QUEUED_PARAMS: tuple[str, ...] = ("queue", "limit", "offset")
"""Every parameter the queued-workflow list accepts."""

_EPOCH_MS = re.compile(r"[0-9]{1,15}")


class BadParameter(ConductorError, ValueError):
    """A query parameter is malformed or out of range (answered with 400); a ``ValueError`` too,
    for the parsers that catch one.

    Attributes:
        parameter: the offending parameter's name.
    """

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"invalid parameter {parameter!r}: {message}")
        self.parameter = parameter


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowQuery:
    """A validated workflow-list query."""

    flt: WorkflowFilter
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    cursor: str | None = None
    """Keyset cursor from a previous page's ``next_cursor``; exclusive with ``offset``."""
    sort: SortOrder = SortOrder.NEWEST


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedQuery:
    """A validated queued-workflow list query."""

    queue_name: str | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0


_NUL = "must not contain NUL characters (no stored text holds one)"


class _Params:
    """Query items grouped by name, with empty values dropped."""

    def __init__(self, items: Iterable[tuple[str, str]], allowed: Sequence[str]) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in items:
            if key not in allowed:
                raise BadParameter(key, f"unknown parameter; allowed are {', '.join(allowed)}")
            if "\x00" in value:
                raise BadParameter(key, _NUL)
            if value.strip():
                self._values.setdefault(key, []).append(value.strip())

    def all(self, name: str) -> list[str]:
        return self._values.get(name, [])

    def one(self, name: str) -> str | None:
        values = self.all(name)
        if len(values) > 1:
            raise BadParameter(name, "give it at most once")
        return values[0] if values else None


def parse_app(value: str) -> AppName:
    """The ``{app}`` path parameter.

    Raises:
        BadParameter: not a valid app name.
    """
    try:
        return validate_app_name(value)
    except ValueError as exc:
        raise BadParameter("app", str(exc)) from None


def parse_workflow_id(value: str) -> WorkflowId:
    """The ``{workflow_id}`` path parameter.

    Raises:
        BadParameter: empty or longer than any stored id.
    """
    if not value or len(value) > MAX_WORKFLOW_ID_CHARS:
        raise BadParameter("workflow_id", f"1 to {MAX_WORKFLOW_ID_CHARS} characters")
    if "\x00" in value:
        raise BadParameter("workflow_id", _NUL)
    return WorkflowId(value)


def parse_workflow_path(path_params: Mapping[str, str]) -> tuple[AppName, WorkflowId]:
    """The ``{app}`` and ``{workflow_id}`` path parameters of a workflow's routes.

    Raises:
        BadParameter: either is invalid.
    """
    return parse_app(path_params["app"]), parse_workflow_id(path_params["workflow_id"])


def parse_workflow_query(items: Iterable[tuple[str, str]]) -> WorkflowQuery:
    """Validate the workflow list's query parameters.

    Args:
        items: the query string's ``(name, value)`` pairs, repeated names included.

    Returns:
        The filter, page and order to list with.

    Raises:
        BadParameter: an unknown parameter, or a value that is malformed or out of range.
    """
    params = _Params(items, WORKFLOW_PARAMS)
    after = _opt_time(params, "created_after")
    before = _opt_time(params, "created_before")
    if after is not None and before is not None and after >= before:
        raise BadParameter("created_before", "must be later than created_after")
    flt = WorkflowFilter(
        statuses=parse_statuses(params.all("status")),
        name=_opt_text(params, "name"),
        workflow_id_prefix=_opt_text(params, "workflow_id_prefix"),
        queue_name=_opt_text(params, "queue"),
        application_version=_opt_text(params, "application_version"),
        executor_id=_opt_text(params, "executor_id"),
        created_after_ms=after,
        created_before_ms=before,
    )
    cursor = _opt_text(params, "cursor")
    offset = _int_in(params, "offset", default=0, low=0, high=None)
    if cursor is not None and offset:
        raise BadParameter("cursor", "give either cursor or offset, not both")
    return WorkflowQuery(
        flt=flt,
        limit=_int_in(params, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
        offset=offset,
        cursor=cursor,
        sort=_sort(params),
    )


def parse_queued_query(items: Iterable[tuple[str, str]]) -> QueuedQuery:
    """Validate the queued-workflow list's query parameters.

    Raises:
        BadParameter: an unknown parameter, or a value that is malformed or out of range.
    """
    params = _Params(items, QUEUED_PARAMS)
    return QueuedQuery(
        queue_name=_opt_text(params, "queue"),
        limit=_int_in(params, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
        offset=_int_in(params, "offset", default=0, low=0, high=None),
    )


def parse_statuses(values: Iterable[str]) -> tuple[str, ...]:
    """Statuses from repeated and/or comma-separated values, upper-cased, deduplicated, in order.

    Raises:
        BadParameter: a value is not a DBOS workflow status.
    """
    statuses: list[str] = []
    for value in values:
        for part in value.split(","):
            status = part.strip().upper()
            if not status:
                continue
            if status not in STATUS_VALUES:
                raise BadParameter(
                    "status", f"{part.strip()[:64]!r} is not one of {', '.join(STATUS_VALUES)}"
                )
            if status not in statuses:
                statuses.append(status)
    return tuple(statuses)


MAX_TIME_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z, the last instant a datetime holds."""


def parse_time_ms(name: str, value: str) -> int:
    """An instant as epoch milliseconds, from epoch ms or ISO 8601 (no zone means UTC).

    Raises:
        BadParameter: the value is neither.
    """
    if _EPOCH_MS.fullmatch(value):
        if int(value) > MAX_TIME_MS:
            raise BadParameter(name, "expected a time before the year 10000")
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadParameter(
            name, "expected ISO 8601 (e.g. 2024-05-01T12:00:00Z) or epoch milliseconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _opt_time(params: _Params, name: str) -> int | None:
    value = params.one(name)
    return None if value is None else parse_time_ms(name, value)


def _opt_text(params: _Params, name: str) -> str | None:
    value = params.one(name)
    if value is not None and len(value) > MAX_TEXT_PARAM_CHARS:
        raise BadParameter(name, f"at most {MAX_TEXT_PARAM_CHARS} characters")
    return value


def _int_in(params: _Params, name: str, *, default: int, low: int, high: int | None) -> int:
    value = params.one(name)
    if value is None:
        return default
    allowed = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
    if not re.fullmatch(r"-?[0-9]{1,18}", value):
        raise BadParameter(name, f"expected {allowed}")
    number = int(value)
    if number < low or (high is not None and number > high):
        raise BadParameter(name, f"expected {allowed}, got {number}")
    return number


def _sort(params: _Params) -> SortOrder:
    value = params.one("sort")
    if value is None:
        return SortOrder.NEWEST
    if value not in SORT_VALUES:
        raise BadParameter("sort", f"expected one of {', '.join(SORT_VALUES)}")
    return SortOrder(value)
