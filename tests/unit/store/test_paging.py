"""Keyset paging: cursors round-trip; the prefix successor bounds an index range in code point
order. (Malformed cursors are refused through ``list_workflows`` in ``test_workflow_queries``.)"""

from __future__ import annotations

import pytest

from store.paging import SortOrder, decode_cursor, encode_cursor, prefix_successor

T0 = 1_700_000_000_000


def test_cursor_round_trips() -> None:
    cursor = encode_cursor(SortOrder.NEWEST, T0, "wf/ü?&=")
    assert decode_cursor(cursor, SortOrder.NEWEST) == (T0, "wf/ü?&=")


@pytest.mark.parametrize(
    ("prefix", "upper"),
    [("ab", "ac"), ("a\U0010ffff", "b"), ("\U0010ffff", None), ("a\ud7ff", "a\ue000")],
)
def test_prefix_successor(prefix: str, upper: str | None) -> None:
    assert prefix_successor(prefix) == upper
