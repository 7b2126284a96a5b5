"""The Python connector's pure parts (``connectors/python``): decoding conductor frames and the
recovery path per DBOS version. Its behaviour against real DBOS executors is the conformance
tier's (``tests/conformance/test_connector.py``, ``test_clients.py``)."""

from __future__ import annotations

import json

import pytest
from baton_connector import protocol, recovery
from baton_connector.exceptions import ProtocolError
from baton_connector.recovery import Strategy
from hypothesis import given
from hypothesis import strategies as st


@given(st.text())
def test_decode_accepts_or_raises_only_protocol_error(text: str) -> None:
    try:
        request = protocol.decode(text)
    except ProtocolError:
        return
    assert isinstance(request.type, str)
    assert isinstance(request.request_id, str)


@pytest.mark.parametrize(
    "frame",
    ["[]", '{"type": "cancel"}', '{"type": 1, "request_id": "r"}', "not json"],
)
def test_frames_without_a_type_and_request_id_are_refused(frame: str) -> None:
    with pytest.raises(ProtocolError):
        protocol.decode(frame)


def test_unknown_fields_are_ignored_and_a_reply_echoes_the_request() -> None:
    request = protocol.decode(
        json.dumps({"type": "cancel", "request_id": "r1", "workflow_id": "w", "extra": [1]})
    )
    assert request.ids() == ["w"]
    assert json.loads(protocol.encode(request, {"success": True})) == {
        "type": "cancel",
        "request_id": "r1",
        "success": True,
    }


def test_many_ids_win_over_one_and_must_be_strings() -> None:
    many = protocol.decode(
        '{"type": "resume", "request_id": "r", "workflow_id": "a", "workflow_ids": ["b", "c"]}'
    )
    assert many.ids() == ["b", "c"]
    bad = protocol.decode('{"type": "resume", "request_id": "r", "workflow_ids": ["b", 2]}')
    with pytest.raises(ProtocolError):
        bad.ids()


def test_a_field_of_the_wrong_type_is_a_protocol_error() -> None:
    request = protocol.decode('{"type": "list_steps", "request_id": "r", "limit": true}')
    with pytest.raises(ProtocolError):
        request.field("limit", int)


@pytest.mark.parametrize(
    ("version", "has_private_call", "expected"),
    [
        ("3.3.0", True, Strategy.PRIVATE_RECOVER),
        ("3.4.0", True, Strategy.PRIVATE_RECOVER),
        ("3.4.0", False, Strategy.PUBLIC_RESUME),
        ("3.5.0", True, Strategy.PUBLIC_RESUME),
        ("3.2.0", True, Strategy.PUBLIC_RESUME),
        ("unknown", True, Strategy.PUBLIC_RESUME),
    ],
)
def test_recovery_takes_the_private_call_only_where_the_table_says_it_was_tested(
    version: str, has_private_call: bool, expected: Strategy
) -> None:
    assert recovery.choose(version, has_private_call=has_private_call) is expected
