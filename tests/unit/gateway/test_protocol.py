"""The sans-I/O DBOS Conductor session: handshake, correlation and protocol violations.

DBOS's own message classes (``dbos._conductor.protocol``, ``dbos==2.31.1``) are the ground truth
for the wire format: replies are built with them, and our requests are parsed by them.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from dbos._conductor import protocol as p
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.protocol import (
    CLOSE_INVALID_PAYLOAD,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_POLICY_VIOLATION,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_UNSUPPORTED_DATA,
    MAX_HOSTNAME_CHARS,
    MAX_ID_CHARS,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_TAG_CHARS,
    ExecutorSession,
    MessageType,
    ReplyReceived,
    Request,
    SessionPhase,
    SessionReady,
    UnknownMessageType,
    close_reason,
    decode_executor_info,
    decode_reply,
    recovery_request,
    recovery_succeeded,
)
from streams.bounds import MAX_TEXT_CHARS
from streams.codec import decode, encode
from streams.exceptions import ProtocolError
from streams.ids import AppName, ConnId, ExecutorId, GatewayId, RequestId
from streams.records import ExecutorConnected, ExecutorInfo, SessionInfo


def info_reply(request_id: str, executor_id: str = "exec-a", **extra: Any) -> str:
    return json.dumps(
        {
            "type": "executor_info",
            "request_id": request_id,
            "executor_id": executor_id,
            "application_version": "v1",
            "hostname": "host-a",
            "language": "python",
            "dbos_version": "2.31.1",
            **extra,
        }
    )


def sent_frames(session: ExecutorSession) -> list[dict[str, Any]]:
    return [json.loads(frame) for frame in session.data_to_send()]


def ready_session(conn_id: str = "conn1") -> ExecutorSession:
    session = ExecutorSession(conn_id)
    session.start()
    (frame,) = sent_frames(session)
    session.receive_text(info_reply(frame["request_id"]))
    assert session.phase is SessionPhase.READY
    session.events_received()
    return session


# --- handshake ------------------------------------------------------------------------------------


def test_start_asks_for_executor_info() -> None:
    session = ExecutorSession("conn1")
    assert session.phase is SessionPhase.AWAITING_INFO
    assert session.data_to_send() == []
    session.start()
    (frame,) = sent_frames(session)
    assert frame["type"] == "executor_info"
    assert isinstance(frame["request_id"], str)
    assert frame["request_id"]
    assert session.pending_requests() == [frame["request_id"]]
    assert session.data_to_send() == []  # drained
    assert session.events_received() == []


def test_executor_info_reply_makes_the_session_ready() -> None:
    session = ExecutorSession("conn1")
    session.start()
    (frame,) = sent_frames(session)
    session.receive_text(
        info_reply(frame["request_id"], executor_metadata={"pod": "p-1"}, extra_field=1)
    )
    (event,) = session.events_received()
    assert isinstance(event, SessionReady)
    assert event.info.executor_id == "exec-a"
    assert event.info.application_version == "v1"
    assert event.info.hostname == "host-a"
    assert event.info.language == "python"
    assert event.info.dbos_version == "2.31.1"
    assert event.info.metadata == {"pod": "p-1"}
    assert session.info == event.info
    assert session.phase is SessionPhase.READY
    assert session.pending_requests() == []
    assert session.events_received() == []  # drained


def test_handshake_with_dbos_own_executor_info_response() -> None:
    session = ExecutorSession("conn1")
    session.start()
    (raw,) = session.data_to_send()
    request = p.BaseMessage.from_json(raw)
    assert request.type == p.MessageType.EXECUTOR_INFO
    reply = p.ExecutorInfoResponse(
        type=p.MessageType.EXECUTOR_INFO,
        request_id=request.request_id,
        executor_id="dbos-exec-7",
        application_version="abc123",
        hostname="worker-3",
        language="python",
        dbos_version="2.31.1",
        executor_metadata={"region": "eu-west-1"},
    )
    session.receive_text(reply.to_json())
    (event,) = session.events_received()
    assert isinstance(event, SessionReady)
    assert event.info.executor_id == "dbos-exec-7"
    assert event.info.application_version == "abc123"
    assert event.info.hostname == "worker-3"
    assert event.info.language == "python"
    assert event.info.dbos_version == "2.31.1"
    assert event.info.metadata == {"region": "eu-west-1"}


def test_recovery_round_trip_with_dbos_own_messages() -> None:
    session = ready_session()
    request_id = session.request(recovery_request([ExecutorId("dead-1"), ExecutorId("dead-2")]))
    (raw,) = session.data_to_send()
    parsed = p.RecoveryRequest.from_json(raw)
    assert parsed.type == p.MessageType.RECOVERY
    assert parsed.request_id == request_id
    assert parsed.executor_ids == ["dead-1", "dead-2"]

    for success, error in [(True, None), (False, "boom")]:
        request_id = session.request(recovery_request([ExecutorId("dead-1")]))
        session.data_to_send()
        session.receive_text(
            p.RecoveryResponse(
                type=p.MessageType.RECOVERY,
                request_id=request_id,
                success=success,
                error_message=error,
            ).to_json()
        )
        (event,) = session.events_received()
        assert isinstance(event, ReplyReceived)
        assert event.reply.type is MessageType.RECOVERY
        assert event.reply.request_id == request_id
        assert recovery_succeeded(event.reply) is success
        assert event.reply.error_message == error


NEWER_THAN_2_31 = {"rewind_workflow"}
"""Types of dbos 3.2.0 (``dbos/_conductor/protocol.py``) that 2.31.1 (the test extras') lacks."""


def test_our_message_types_match_dbos() -> None:
    ours = {m.value for m in MessageType}
    assert ours - NEWER_THAN_2_31 == {m.value for m in p.MessageType}


def test_executor_info_reply_without_executor_id_is_a_protocol_error() -> None:
    session = ExecutorSession("conn1")
    session.start()
    (frame,) = sent_frames(session)
    bad = json.dumps({"type": "executor_info", "request_id": frame["request_id"]})
    with pytest.raises(ProtocolError) as caught:
        session.receive_text(bad)
    assert caught.value.close_code == CLOSE_PROTOCOL_ERROR


@pytest.mark.parametrize(
    "fields",
    [
        {"application_version": "v1"},
        {"executor_id": "", "application_version": "v1"},
        {"executor_id": 7, "application_version": "v1"},
        {"executor_id": "e"},
        {"executor_id": "e", "application_version": None},
    ],
)
def test_decode_executor_info_requires_id_and_version(fields: dict[str, Any]) -> None:
    reply = decode_reply(json.dumps({"type": "executor_info", "request_id": "r", **fields}))
    with pytest.raises(ProtocolError) as caught:
        decode_executor_info(reply)
    assert caught.value.close_code == CLOSE_PROTOCOL_ERROR


def test_decode_executor_info_bounds_and_tolerates_odd_optional_fields() -> None:
    reply = decode_reply(
        json.dumps(
            {
                "type": "executor_info",
                "request_id": "r",
                "executor_id": "e" * MAX_ID_CHARS,
                "application_version": "v" * MAX_ID_CHARS,
                "hostname": 5,
                "language": "l" * 1_000,
                "dbos_version": None,
                "executor_metadata": ["not", "an", "object"],
            }
        )
    )
    info = decode_executor_info(reply)
    assert info.executor_id == "e" * MAX_ID_CHARS
    assert info.application_version == "v" * MAX_ID_CHARS
    assert info.hostname is None
    assert info.language == "l" * MAX_TAG_CHARS
    assert info.dbos_version is None
    assert info.metadata is None


@pytest.mark.parametrize(
    "fields",
    [
        {"executor_id": "e" * (MAX_ID_CHARS + 1), "application_version": "v1"},
        {"executor_id": "e", "application_version": "v" * (MAX_ID_CHARS + 1)},
        {"executor_id": "exec\x00a", "application_version": "v1"},
        {"executor_id": "exec-a", "application_version": "v1\nforged log line"},
        {"executor_id": "\x7f", "application_version": "v1"},
    ],
    ids=["long id", "long version", "NUL in id", "newline in version", "DEL as id"],
)
def test_decode_executor_info_refuses_unusable_ids(fields: dict[str, Any]) -> None:
    """A cut id would not name the executor DBOS recovers; NUL cannot be stored in PostgreSQL."""
    reply = decode_reply(json.dumps({"type": "executor_info", "request_id": "r", **fields}))
    with pytest.raises(ProtocolError) as caught:
        decode_executor_info(reply)
    assert caught.value.close_code == CLOSE_POLICY_VIOLATION


def test_decode_executor_info_strips_control_characters_from_descriptions() -> None:
    info = decode_executor_info(
        decode_reply(
            info_reply("r", hostname="ho\x00st\r\n", language="py\x00", dbos_version="2\t.31")
        )
    )
    assert (info.hostname, info.language, info.dbos_version) == ("host", "py", "2.31")


def connected_record(info: ExecutorInfo) -> ExecutorConnected:
    """The record an accepted ``executor_info`` ends up in (and, every interval, in heartbeats)."""
    session = SessionInfo(info=info, conn_id=ConnId("c"), connected_at_ms=1)
    return ExecutorConnected(app=AppName("a"), gateway=GatewayId("g"), session=session, ts_ms=1)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("metadata", "kept"),
    [
        ({"pod": "p-1"}, True),
        ({"pad": "x" * (MAX_METADATA_BYTES - 12)}, True),  # {"pad":"..."} is 10 bytes more
        ({"pad": "x" * MAX_METADATA_BYTES}, False),
        (_nested(MAX_METADATA_DEPTH), True),
        (_nested(MAX_METADATA_DEPTH + 1), False),
        ([[[_nested(MAX_METADATA_DEPTH - 3)]]], False),  # not an object
        ({"a": [[_nested(MAX_METADATA_DEPTH - 3)]]}, True),
        ({"a": [[_nested(MAX_METADATA_DEPTH - 2)]]}, False),  # arrays nest too
        (_nested(252), False),  # fits orjson alone, not inside a record (hypothesis found it)
        ({"big": 10**40}, True),  # orjson reads it as a float
    ],
    ids=[
        "small",
        "at the limit",
        "over the limit",
        "as deep as allowed",
        "one level deeper",
        "an array",
        "arrays at the depth limit",
        "arrays past the depth limit",
        "fits orjson alone",
        "huge number",
    ],
)
def test_executor_metadata_is_kept_only_when_a_record_can_hold_it(
    metadata: dict[str, Any], kept: bool
) -> None:
    info = decode_executor_info(decode_reply(info_reply("r", executor_metadata=metadata)))
    assert (info.metadata is not None) is kept
    assert decode(encode(connected_record(info))) == connected_record(info)


def test_executor_id_change_mid_session_is_a_protocol_error() -> None:
    session = ready_session()
    session.start()  # ask again, e.g. to refresh the info
    (frame,) = sent_frames(session)
    with pytest.raises(ProtocolError) as caught:
        session.receive_text(info_reply(frame["request_id"], executor_id="someone-else"))
    assert caught.value.close_code == CLOSE_PROTOCOL_ERROR
    assert session.info is not None
    assert session.info.executor_id == "exec-a"


def test_asking_again_with_the_same_executor_id_is_fine() -> None:
    session = ready_session()
    session.start()
    (frame,) = sent_frames(session)
    session.receive_text(info_reply(frame["request_id"], hostname="moved"))
    (event,) = session.events_received()
    assert isinstance(event, SessionReady)
    assert event.info.hostname == "moved"


# --- correlation ----------------------------------------------------------------------------------


def test_request_ids_are_distinct_and_replies_are_correlated() -> None:
    session = ready_session()
    ids = [
        session.request(Request(type=MessageType.LIST_WORKFLOWS, fields={"body": {}}))
        for _ in range(5)
    ]
    assert len(set(ids)) == 5
    frames = sent_frames(session)
    assert [f["request_id"] for f in frames] == ids
    assert all(f["type"] == "list_workflows" and f["body"] == {} for f in frames)
    assert set(session.pending_requests()) == set(ids)

    # answered out of order
    for request_id in reversed(ids):
        session.receive_text(
            json.dumps({"type": "list_workflows", "request_id": request_id, "output": []})
        )
    events = session.events_received()
    assert [e.reply.request_id for e in events if isinstance(e, ReplyReceived)] == ids[::-1]
    assert session.pending_requests() == []


def test_request_ids_differ_across_sessions() -> None:
    one, two = ExecutorSession("conn1"), ExecutorSession("conn2")
    one.start()
    two.start()
    assert sent_frames(one)[0]["request_id"] != sent_frames(two)[0]["request_id"]


def test_request_fields_cannot_override_type_or_request_id() -> None:
    session = ready_session()
    request_id = session.request(
        Request(type=MessageType.RECOVERY, fields={"type": "cancel", "request_id": "forged"})
    )
    (frame,) = sent_frames(session)
    assert frame["type"] == "recovery"
    assert frame["request_id"] == request_id


def test_a_reply_to_a_forgotten_request_is_ignored() -> None:
    session = ready_session()
    request_id = session.request(recovery_request([ExecutorId("dead")]))
    session.forget(request_id)
    assert session.pending_requests() == []
    session.receive_text(
        json.dumps({"type": "recovery", "request_id": request_id, "success": True})
    )
    assert session.events_received() == []
    session.forget(request_id)  # forgetting twice is harmless


def test_a_duplicate_reply_is_ignored() -> None:
    session = ready_session()
    request_id = session.request(recovery_request([ExecutorId("dead")]))
    reply = json.dumps({"type": "recovery", "request_id": request_id, "success": True})
    session.receive_text(reply)
    session.receive_text(reply)
    assert len(session.events_received()) == 1


def test_a_reply_to_an_unknown_request_id_is_ignored() -> None:
    session = ready_session()
    session.receive_text(json.dumps({"type": "recovery", "request_id": "nope", "success": True}))
    assert session.events_received() == []


def test_a_reply_of_the_wrong_type_is_a_protocol_error() -> None:
    session = ready_session()
    request_id = session.request(recovery_request([ExecutorId("dead")]))
    with pytest.raises(ProtocolError) as caught:
        session.receive_text(json.dumps({"type": "cancel", "request_id": request_id}))
    assert caught.value.close_code == CLOSE_PROTOCOL_ERROR


# --- violations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "close_code"),
    [
        ("not json", CLOSE_INVALID_PAYLOAD),
        ("", CLOSE_INVALID_PAYLOAD),
        ("{", CLOSE_INVALID_PAYLOAD),
        ("[1, 2]", CLOSE_INVALID_PAYLOAD),
        ('"executor_info"', CLOSE_INVALID_PAYLOAD),
        ("null", CLOSE_INVALID_PAYLOAD),
        ("{}", CLOSE_PROTOCOL_ERROR),
        ('{"type": "recovery"}', CLOSE_PROTOCOL_ERROR),
        ('{"request_id": "r"}', CLOSE_PROTOCOL_ERROR),
        ('{"type": 1, "request_id": "r"}', CLOSE_PROTOCOL_ERROR),
        ('{"type": "recovery", "request_id": 1}', CLOSE_PROTOCOL_ERROR),
        (json.dumps({"type": "t" * 257, "request_id": "r"}), CLOSE_POLICY_VIOLATION),
        (json.dumps({"type": "teleport", "request_id": "r" * 257}), CLOSE_POLICY_VIOLATION),
    ],
)
def test_malformed_frames_close_with_the_right_code(text: str, close_code: int) -> None:
    session = ready_session()
    with pytest.raises(ProtocolError) as caught:
        session.receive_text(text)
    assert caught.value.close_code == close_code


def test_an_unknown_type_gets_an_error_reply_and_the_session_goes_on() -> None:
    session = ready_session()
    pending = session.request(Request(type=MessageType.RECOVERY, fields={"executor_ids": []}))
    sent_frames(session)
    session.receive_text('{"type": "teleport", "request_id": "r-9", "to": "mars"}')
    assert sent_frames(session) == [
        {
            "type": "teleport",
            "request_id": "r-9",
            "error_message": "unknown message type 'teleport': this conductor does not handle it",
        }
    ]
    assert session.events_received() == []
    assert session.pending_requests() == [pending]
    session.receive_text(json.dumps({"type": "recovery", "request_id": pending, "success": True}))
    (event,) = session.events_received()
    assert isinstance(event, ReplyReceived)


def test_decode_reply_raises_unknown_message_type_with_its_type_and_id() -> None:
    with pytest.raises(UnknownMessageType) as caught:
        decode_reply('{"type": "teleport", "request_id": "r"}')
    assert (caught.value.message_type, caught.value.request_id) == ("teleport", "r")
    assert caught.value.close_code == CLOSE_POLICY_VIOLATION


def test_binary_frames_are_unsupported_data() -> None:
    session = ready_session()
    with pytest.raises(ProtocolError) as caught:
        session.receive_binary()
    assert caught.value.close_code == CLOSE_UNSUPPORTED_DATA


def test_decode_reply_keeps_unknown_fields() -> None:
    reply = decode_reply('{"type": "recovery", "request_id": "r", "success": true, "new": [1]}')
    assert reply.type is MessageType.RECOVERY
    assert reply.request_id == RequestId("r")
    assert reply.data["new"] == [1]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=15,
)


def _decode_or_protocol_error(text: str) -> None:
    try:
        reply = decode_reply(text)
    except ProtocolError as exc:
        close_code = exc.close_code
    else:
        assert isinstance(reply.request_id, str)
        assert isinstance(reply.type, MessageType)
        _ = reply.error_message
        return
    assert close_code in {CLOSE_INVALID_PAYLOAD, CLOSE_PROTOCOL_ERROR, CLOSE_POLICY_VIOLATION}


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_decode_reply_raises_only_protocol_error_for_any_text(text: str) -> None:
    _decode_or_protocol_error(text)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_decode_reply_raises_only_protocol_error_for_any_json(value: object) -> None:
    _decode_or_protocol_error(json.dumps(value))


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([m.value for m in MessageType]) | st.text(max_size=8),
    st.text(max_size=8) | json_values,
    st.dictionaries(st.text(max_size=8), json_values, max_size=4),
)
def test_session_raises_only_protocol_error_for_any_frame(
    type_: str, request_id: object, fields: dict[str, Any]
) -> None:
    session = ExecutorSession("c")
    session.start()
    (frame,) = sent_frames(session)
    if request_id == "":
        request_id = frame["request_id"]  # sometimes aim at the pending handshake
    try:
        session.receive_text(json.dumps({**fields, "type": type_, "request_id": request_id}))
    except ProtocolError:
        return


def violation(session: ExecutorSession, text: str) -> ProtocolError | None:
    """The ``ProtocolError`` receiving ``text`` raises, if any."""
    try:
        session.receive_text(text)
    except ProtocolError as exc:
        return exc
    return None


hostile_text = (
    st.text(max_size=20)
    | st.text(st.sampled_from("\x00\x01\n\r\x7f\u2028a\ufeff\U0001f600"), max_size=20)
    | st.integers(0, 700).map(lambda n: "é" * n)
)
"""Text an attacker would try: controls and NUL, odd Unicode, lengths around every limit."""
hostile_value = hostile_text | json_values | st.integers(0, 400).map(_nested)


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "executor_id": hostile_value,
            "application_version": hostile_value,
            "hostname": hostile_value,
            "language": hostile_value,
            "dbos_version": hostile_value,
            "executor_metadata": hostile_value
            | st.dictionaries(hostile_text, hostile_value, max_size=3)
            | st.integers(0, 3000).map(lambda n: {"pad": "x" * n}),
        },
    )
)
def test_executor_info_is_refused_or_bounded_and_publishable(fields: dict[str, Any]) -> None:
    """Whatever an executor says about itself: a 1002/1008 close, or an ``ExecutorInfo`` every
    record, heartbeat and store column can hold (bounded, no control characters)."""
    session = ExecutorSession("c")
    session.start()
    (frame,) = sent_frames(session)
    reply = {**fields, "type": "executor_info", "request_id": frame["request_id"]}
    refused = violation(session, json.dumps(reply))
    if refused is not None:
        assert refused.close_code in {CLOSE_PROTOCOL_ERROR, CLOSE_POLICY_VIOLATION}
        return
    (event,) = session.events_received()
    assert isinstance(event, SessionReady)
    info = event.info
    assert info.executor_id == fields["executor_id"]  # ids are refused, never cut
    assert info.application_version == fields["application_version"]
    limits: list[tuple[str | None, int]] = [
        (info.executor_id, MAX_ID_CHARS),
        (info.application_version, MAX_ID_CHARS),
    ]
    limits += [(info.hostname, MAX_HOSTNAME_CHARS), (info.language, MAX_TAG_CHARS)]
    limits += [(info.dbos_version, MAX_TAG_CHARS)]
    for text, limit in limits:
        assert text is None or (len(text) <= limit and not any(c in text for c in CONTROLS))
    if info.metadata is not None:
        assert len(orjson.dumps(info.metadata)) <= MAX_METADATA_BYTES
    assert decode(encode(connected_record(info))) == connected_record(info)


CONTROLS = {chr(c) for c in range(0x20)} | {"\x7f"}


@pytest.mark.parametrize(
    "code",
    [
        CLOSE_PROTOCOL_ERROR,
        CLOSE_UNSUPPORTED_DATA,
        CLOSE_INVALID_PAYLOAD,
        CLOSE_POLICY_VIOLATION,
        CLOSE_MESSAGE_TOO_BIG,
    ],
)
def test_each_close_code_has_a_fixed_short_public_reason(code: int) -> None:
    reason = close_reason(code)
    assert reason
    assert len(reason.encode()) <= 123  # the most a close frame carries (RFC 6455 5.5)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200) | json_values.map(json.dumps))
def test_no_exception_text_is_a_close_reason(text: str) -> None:
    """What the executor is told is the code's fixed reason, never what went wrong inside."""
    refused = violation(ready_session(), text)
    if refused is not None:
        assert close_reason(refused.close_code) != str(refused)
        assert close_reason(refused.close_code) in {close_reason(c) for c in CLOSE_CODES}


CLOSE_CODES = (CLOSE_PROTOCOL_ERROR, CLOSE_INVALID_PAYLOAD, CLOSE_POLICY_VIOLATION)


def test_decode_reply_rejects_a_lone_surrogate() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_reply('{"type": "\ud800", "request_id": "r"}')
    assert caught.value.close_code == CLOSE_INVALID_PAYLOAD


# --- small helpers --------------------------------------------------------------------------------


def test_error_message_is_bounded() -> None:
    long = "t" * (MAX_TEXT_CHARS * 5)
    reply = decode_reply(json.dumps({"type": "recovery", "request_id": "r", "error_message": long}))
    message = reply.error_message
    # 20480 characters: marker "... [20480 more characters cut]" (31), 4065 kept, 16415 cut.
    assert message == "t" * 4065 + "... [16415 more characters cut]"
    assert len(message) == MAX_TEXT_CHARS


def test_error_message_absent_or_not_text_is_none() -> None:
    assert decode_reply('{"type": "recovery", "request_id": "r"}').error_message is None
    weird = decode_reply('{"type": "recovery", "request_id": "r", "error_message": {"a": 1}}')
    assert weird.error_message is None
    short = decode_reply('{"type": "recovery", "request_id": "r", "error_message": "no"}')
    assert short.error_message == "no"


def test_recovery_request_builds_executor_ids() -> None:
    request = recovery_request([ExecutorId("a"), ExecutorId("b")])
    assert request.type is MessageType.RECOVERY
    assert dict(request.fields) == {"executor_ids": ["a", "b"]}
    assert orjson.loads(orjson.dumps(dict(request.fields))) == {"executor_ids": ["a", "b"]}


@pytest.mark.parametrize(
    ("success", "expected"),
    [(True, True), (False, False), ("true", False), (1, False), (None, False)],
)
def test_recovery_succeeded_only_on_literal_true(success: object, expected: bool) -> None:
    reply = decode_reply(json.dumps({"type": "recovery", "request_id": "r", "success": success}))
    assert recovery_succeeded(reply) is expected
