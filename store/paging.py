"""Keyset paging, shared by the store's lists (workflows, audit log, bulk jobs): the page size
limit, the sort order, opaque cursors, and the index range of a text prefix.

A cursor names the last row of a page by its sort key, so the next page starts right after it:
no row is skipped or repeated when rows arrive between pages, and a deep page costs what the first
does. Pure: no session here. Must not import Faust, Kafka, the gateway or the console.
"""

from __future__ import annotations

import base64
import binascii
from enum import StrEnum

import orjson

from store.models import INT64_MAX, INT64_MIN

MAX_PAGE_ROWS = 1_000
"""``limit`` is clamped to 1..this many rows."""


class SortOrder(StrEnum):
    """The order of a list: by its time (a workflow's creation, an audit entry's time), then by
    id the same way. The values are the API's ``sort`` parameter."""

    NEWEST = "created_desc"
    OLDEST = "created_asc"


def encode_cursor(sort: SortOrder, created_at_ms: int, workflow_id: str) -> str:
    """The opaque cursor of the page after the row ``(created_at_ms, workflow_id)``."""
    raw = orjson.dumps([sort.value, created_at_ms, workflow_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: SortOrder) -> tuple[int, str]:
    """The ``(created_at_ms, workflow_id)`` of a cursor made by ``encode_cursor``.

    Raises:
        ValueError: the cursor is malformed or was made for the other sort order.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("malformed cursor") from exc
    match data:
        case [str(order), int(created_at_ms), str(workflow_id)] if (
            order == sort.value and not isinstance(created_at_ms, bool)
        ):
            # PostgreSQL text holds no NUL: such an id was never stored, so was never a cursor.
            if INT64_MIN <= created_at_ms <= INT64_MAX and "\x00" not in workflow_id:
                return created_at_ms, workflow_id
    raise ValueError("malformed cursor, or one made for another sort order")


def prefix_successor(prefix: str) -> str | None:
    """The least string greater than every string that starts with ``prefix``, in code point
    order (SQLite's ``BINARY``, PostgreSQL's ``C``); ``None`` if there is none.

    Args:
        prefix: a non-empty prefix.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code == 0xD800:
            code = 0xE000  # surrogates are not characters: UTF-8 cannot encode them
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None
