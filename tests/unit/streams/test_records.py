"""The record codec: every record round-trips, unknown fields are ignored, and malformed input
raises ``RecordError`` and nothing else."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.bounds import MAX_TEXT_CHARS, bound_text
from streams.codec import decode, encode, peek_type, record_key
from streams.exceptions import RecordError
from streams.ids import AppName, CommandId, ConnId, ExecutorId, GatewayId, RequestId, WorkflowId
from streams.records import (
    ActionOutcome,
    CaptureCursor,
    CommandProgress,
    CommandStatus,
    ExecutorConnected,
    ExecutorDisconnected,
    ExecutorInfo,
    ExecutorReply,
    ExecutorRequest,
    GatewayHeartbeat,
    ListSessions,
    OperatorAction,
    PollResult,
    PollWorkflows,
    Record,
    RecordType,
    RecoverExecutor,
    RecoveryDecision,
    RecoveryStep,
    ReplyFailure,
    RequestKind,
    SessionInfo,
    StepInfo,
    WorkflowDeleted,
    WorkflowState,
    WorkflowStatus,
    WorkflowSteps,
)

T0 = 1_700_000_000_000
APP = AppName("orders")
GW = GatewayId("gw-1")


def info(executor_id: str = "exec-a", **kwargs: Any) -> ExecutorInfo:
    return ExecutorInfo(
        executor_id=ExecutorId(executor_id),
        application_version=kwargs.pop("application_version", "v1"),
        **kwargs,
    )


def session(executor_id: str = "exec-a", conn_id: str = "c1", at: int = T0) -> SessionInfo:
    return SessionInfo(
        info=info(
            executor_id,
            hostname="host-a",
            language="python",
            dbos_version="2.31.1",
            metadata={"region": "eu", "nested": {"n": [1, 2.5, None, True]}},
        ),
        conn_id=ConnId(conn_id),
        connected_at_ms=at,
    )


def workflow(workflow_id: str = "wf-1", status: str = WorkflowState.ERROR) -> WorkflowStatus:
    """A workflow status with every field set."""
    return WorkflowStatus(
        app=APP,
        workflow_id=WorkflowId(workflow_id),
        status=status,
        observed_at_ms=T0 + 20,
        name="checkout",
        class_name="Shop",
        config_name="eu-shop",
        authenticated_user="alice",
        assumed_role="admin",
        authenticated_roles="['admin', 'ops']",
        input='{"args": [1, 2], "kwargs": {}}',
        output=None,
        error="card declined",
        has_input=True,
        has_output=True,
        created_at_ms=T0,
        updated_at_ms=T0 + 15,
        completed_at_ms=T0 + 15,
        dequeued_at_ms=T0 + 1,
        queue_name="orders-q",
        queue_partition_key="tenant-9",
        deduplication_id="dedup-1",
        priority=3,
        application_version="v7",
        executor_id="exec-a",
        timeout_ms=60_000,
        deadline_epoch_ms=T0 + 60_000,
        delay_until_epoch_ms=T0 + 5,
        forked_from="wf-0",
        was_forked_from=True,
        parent_workflow_id="wf-parent",
        attributes='{"region": "eu"}',
        schedule_name="nightly",
    )


STEPS = (
    StepInfo(
        function_id=0,
        function_name="reserve",
        output="{'sku': 1}",
        started_at_ms=T0 + 2,
        completed_at_ms=T0 + 3,
    ),
    StepInfo(
        function_id=1,
        function_name="charge",
        error="'card declined'",
        child_workflow_id="wf-child",
        started_at_ms=T0 + 4,
        completed_at_ms=T0 + 14,
    ),
    StepInfo(function_id=2, function_name="notify"),
)
CURSOR = CaptureCursor(
    created_from_ms=T0, created_skip=3, completed_from_ms=T0 - 500, completed_span_ms=250
)


RECORDS: list[Record] = [
    ExecutorConnected(app=APP, gateway=GW, session=session(), ts_ms=T0),
    ExecutorConnected(
        app=APP,
        gateway=GW,
        session=SessionInfo(info=info("bare"), conn_id=ConnId("c0"), connected_at_ms=0),
        ts_ms=0,
    ),
    ExecutorDisconnected(
        app=APP,
        gateway=GW,
        executor_id=ExecutorId("exec-a"),
        conn_id=ConnId("c1"),
        close_code=1006,
        close_reason="abnormal",
        draining=False,
        ts_ms=T0 + 5,
    ),
    ExecutorDisconnected(
        app=APP,
        gateway=GW,
        executor_id=ExecutorId("exec-a"),
        conn_id=ConnId("c1"),
        close_code=None,
        close_reason="",
        draining=True,
        ts_ms=T0 + 6,
    ),
    ExecutorDisconnected(
        app=APP,
        gateway=GW,
        executor_id=ExecutorId("exec-a"),
        conn_id=ConnId("c1"),
        close_code=1008,
        close_reason="API key revoked",
        draining=False,
        ts_ms=T0 + 7,
        revoked=True,
    ),
    GatewayHeartbeat(app=APP, gateway=GW, sessions=(), ts_ms=T0),
    GatewayHeartbeat(
        app=APP,
        gateway=GW,
        sessions=(session("exec-a", "c1"), session("exec-b", "c2", T0 + 1)),
        ts_ms=T0 + 2_000,
    ),
    GatewayHeartbeat(
        app=APP,
        gateway=GW,
        sessions=(session("exec-b", "c2"),),
        ts_ms=T0 + 2_000,
        listed_after=ExecutorId("exec-a"),
        listed_through=ExecutorId("exec-b"),
        session_count=3,
        digest="0f" * 16,
    ),
    GatewayHeartbeat(
        app=APP, gateway=GW, sessions=(), ts_ms=T0, listed=False, session_count=3, digest="ab"
    ),
    *(
        CommandProgress(
            app=APP,
            command_id=CommandId("recover/orders/exec-a/1/1"),
            gateway=GW,
            executor_id=ExecutorId("exec-b"),
            status=status,
            error=error,
            ts_ms=T0 + 7,
        )
        for status, error in [
            (CommandStatus.SENT, None),
            (CommandStatus.SUCCEEDED, None),
            (CommandStatus.FAILED, "Traceback: boom"),
        ]
    ),
    ListSessions(
        command_id=CommandId("list/orders/gw-1/1700000000000"), app=APP, gateway=GW, issued_at_ms=T0
    ),
    RecoverExecutor(
        command_id=CommandId("recover/orders/exec-a/1/1"),
        app=APP,
        target=ExecutorId("exec-b"),
        target_gateway=GW,
        dead_executor_id=ExecutorId("exec-a"),
        issued_at_ms=T0 + 8,
        timeout_ms=15_000,
    ),
    RecoverExecutor(
        command_id=CommandId("recover/orders/exec-a/1/2"),
        app=APP,
        target=ExecutorId("exec-c"),
        target_gateway=None,
        dead_executor_id=ExecutorId("exec-a"),
        issued_at_ms=T0 + 9,
        timeout_ms=1,
    ),
    *(
        RecoveryDecision(
            app=APP,
            dead_executor_id=ExecutorId("exec-a"),
            application_version="v1",
            step=step,
            reason=f"because {step.value}",
            ts_ms=T0 + 10,
            attempt=2,
            target=ExecutorId("exec-b"),
            command_id=CommandId("recover/orders/exec-a/1/2"),
        )
        for step in RecoveryStep
    ),
    RecoveryDecision(
        app=APP,
        dead_executor_id=ExecutorId("exec-a"),
        application_version="v1",
        step=RecoveryStep.DECLARED_DEAD,
        reason="gone",
        ts_ms=T0,
    ),
    workflow(),
    WorkflowStatus(app=APP, workflow_id=WorkflowId("wf-2"), status="PENDING", observed_at_ms=T0),
    WorkflowStatus(  # a status DBOS may add later is kept as text
        app=APP, workflow_id=WorkflowId("wf-3"), status="PAUSED", observed_at_ms=T0
    ),
    WorkflowSteps(app=APP, workflow_id=WorkflowId("wf-1"), steps=STEPS, observed_at_ms=T0 + 21),
    WorkflowSteps(app=APP, workflow_id=WorkflowId("wf-2"), steps=(), observed_at_ms=T0),
    PollWorkflows(
        command_id=CommandId("poll:orders:1:7"),
        app=APP,
        target=ExecutorId("exec-b"),
        target_gateway=GW,
        cursor=CURSOR,
        page_size=100,
        max_pages=5,
        check_active=True,
        steps_budget=5,
        issued_at_ms=T0,
        timeout_ms=15_000,
    ),
    PollWorkflows(
        command_id=CommandId("poll:orders:1:1"),
        app=APP,
        target=ExecutorId("exec-c"),
        target_gateway=None,
        cursor=CaptureCursor(),
        page_size=1,
        max_pages=1,
        check_active=False,
        steps_budget=0,
        issued_at_ms=T0,
        timeout_ms=1,
        payloads_private=True,
    ),
    PollResult(
        command_id=CommandId("poll:orders:1:7"),
        app=APP,
        gateway=GW,
        executor_id=ExecutorId("exec-b"),
        ok=True,
        cursor=CaptureCursor(
            created_from_ms=T0 + 40,
            created_skip=1,
            completed_from_ms=T0 - 250,
            completed_span_ms=500,
        ),
        workflows_seen=512,
        requests=9,
        more=True,
        active_seen=False,
        ts_ms=T0 + 50,
    ),
    PollResult(
        command_id=CommandId("poll:orders:1:8"),
        app=APP,
        gateway=GW,
        executor_id=ExecutorId("exec-b"),
        ok=False,
        cursor=CURSOR,
        workflows_seen=0,
        requests=1,
        more=False,
        active_seen=True,
        ts_ms=T0 + 60,
        error="list_workflows failed on the executor: Traceback",
    ),
    *(
        ExecutorRequest(
            request_id=RequestId(f"req-{kind.value}"),
            app=APP,
            target=ExecutorId("exec-b"),
            target_gateway=gateway,
            kind=kind,
            workflow_id=WorkflowId("wf-1"),
            issued_at_ms=T0,
            timeout_ms=5_000,
        )
        for kind, gateway in [(RequestKind.GET_WORKFLOW, GW), (RequestKind.LIST_STEPS, None)]
    ),
    ExecutorRequest(
        request_id=RequestId("act-1#0"),
        app=APP,
        target=ExecutorId("exec-b"),
        target_gateway=GW,
        kind=RequestKind.FORK,
        workflow_id=WorkflowId("wf-1"),
        issued_at_ms=T0,
        timeout_ms=10_000,
        params={"start_step": 3, "new_workflow_id": "wf-1-fork", "queue_name": None},
    ),
    ExecutorRequest(
        request_id=RequestId("req-private"),
        app=APP,
        target=ExecutorId("exec-b"),
        target_gateway=GW,
        kind=RequestKind.GET_WORKFLOW,
        workflow_id=WorkflowId("wf-1"),
        issued_at_ms=T0,
        timeout_ms=5_000,
        payloads_private=True,
    ),
    ExecutorReply(
        request_id=RequestId("req-get_workflow"),
        app=APP,
        executor_id=ExecutorId("exec-b"),
        gateway=GW,
        ok=True,
        ts_ms=T0 + 30,
        workflow=workflow(),
        steps=STEPS,
    ),
    ExecutorReply(
        request_id=RequestId("req-list_steps"),
        app=APP,
        executor_id=ExecutorId("exec-b"),
        gateway=GW,
        ok=False,
        ts_ms=T0 + 31,
        error="target not connected here",
        failure=ReplyFailure.NOT_CONNECTED,
    ),
    ExecutorReply(
        request_id=RequestId("act-1#0"),
        app=APP,
        executor_id=ExecutorId("exec-b"),
        gateway=GW,
        ok=True,
        ts_ms=T0 + 32,
        result={"new_workflow_id": "wf-1-fork"},
    ),
    WorkflowDeleted(
        app=APP, workflow_id=WorkflowId("wf-1"), with_children=True, deleted_at_ms=T0 + 50
    ),
    OperatorAction(
        action_id="act-1",
        app=APP,
        actor="token:ops",
        action="workflow.fork",
        target="wf-1",
        params={"start_step": 3},
        outcome=ActionOutcome.SUCCEEDED,
        requested_at_ms=T0,
        finished_at_ms=T0 + 40,
        result={"new_workflow_id": "wf-1-fork"},
        executor_id=ExecutorId("exec-b"),
    ),
    OperatorAction(
        action_id="act-2",
        app=APP,
        actor="local",
        action="workflow.resume",
        target="wf-2",
        params={},
        outcome=ActionOutcome.REJECTED,
        requested_at_ms=T0,
        finished_at_ms=T0 + 1,
        error="no executor of version v2 is connected",
    ),
]


def test_every_record_type_is_covered() -> None:
    assert {r.type for r in RECORDS} == set(RecordType)


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.type.value)
def test_round_trip(record: Record) -> None:
    raw = encode(record)
    assert decode(raw) == record
    assert decode(raw.decode()) == record  # text is accepted as well as bytes


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.type.value)
def test_encoding_carries_the_type_discriminator(record: Record) -> None:
    data = orjson.loads(encode(record))
    assert data["type"] == record.type.value
    assert type(decode(encode(record))) is type(record)


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.type.value)
def test_decode_ignores_unknown_fields(record: Record) -> None:
    data = orjson.loads(encode(record))
    data["added_in_a_later_version"] = {"anything": [1, 2]}
    if "session" in data:
        data["session"]["extra"] = 1
        data["session"]["info"]["extra"] = "x"
    for s in data.get("sessions", []):
        s["extra"] = True
    for nested in ("cursor", "workflow"):
        if data.get(nested) is not None:
            data[nested]["extra"] = [1]
    for s in data.get("steps") or []:
        s["extra"] = None
    assert decode(orjson.dumps(data)) == record


def test_decode_defaults_optional_fields_when_absent() -> None:
    decision = decode(
        orjson.dumps(
            {
                "type": "recovery_decision",
                "app": "orders",
                "dead_executor_id": "exec-a",
                "application_version": "v1",
                "step": "declared_dead",
                "reason": "gone",
                "ts_ms": T0,
            }
        )
    )
    assert isinstance(decision, RecoveryDecision)
    assert (decision.attempt, decision.target, decision.command_id) == (0, None, None)

    connected = decode(
        orjson.dumps(
            {
                "type": "executor_connected",
                "app": "orders",
                "gateway": "gw-1",
                "ts_ms": T0,
                "session": {
                    "conn_id": "c1",
                    "connected_at_ms": T0,
                    "info": {"executor_id": "exec-a", "application_version": "v1"},
                },
            }
        )
    )
    assert isinstance(connected, ExecutorConnected)
    assert connected.session.info == info("exec-a")


def test_decode_of_a_disconnect_without_revoked_defaults_to_false() -> None:
    raw = {
        "type": "executor_disconnected",
        "app": "orders",
        "gateway": "gw-1",
        "executor_id": "exec-a",
        "conn_id": "c1",
        "close_code": 1000,
        "close_reason": "bye",
        "draining": False,
        "ts_ms": T0,
    }
    decoded = decode(orjson.dumps(raw))
    assert isinstance(decoded, ExecutorDisconnected)
    assert decoded.revoked is False
    with pytest.raises(RecordError):
        decode(orjson.dumps({**raw, "revoked": "yes"}))


PRIVATE_COMMANDS = [
    r for r in RECORDS if isinstance(r, PollWorkflows | ExecutorRequest) and r.payloads_private
]


@pytest.mark.parametrize("sample", PRIVATE_COMMANDS, ids=lambda r: r.type.value)
def test_a_command_of_an_older_baton_asks_for_payloads_as_before(
    sample: PollWorkflows | ExecutorRequest,
) -> None:
    """``payloads_private`` is absent from the commands of a worker or console that predates
    payload privacy: they read as not private (what those Batons did), and a wrong type fails."""
    assert len(PRIVATE_COMMANDS) == 2
    raw = orjson.loads(encode(sample))
    del raw["payloads_private"]
    decoded = decode(orjson.dumps(raw))
    assert isinstance(decoded, PollWorkflows | ExecutorRequest)
    assert decoded.payloads_private is False
    with pytest.raises(RecordError):
        decode(orjson.dumps({**raw, "payloads_private": "yes"}))


def test_decode_bounds_progress_error_text() -> None:
    progress = CommandProgress(
        app=APP,
        command_id=CommandId("c"),
        gateway=GW,
        executor_id=ExecutorId("exec-b"),
        status=CommandStatus.FAILED,
        error="x" * (MAX_TEXT_CHARS * 3),
        ts_ms=T0,
    )
    decoded = decode(encode(progress))
    assert isinstance(decoded, CommandProgress)
    # 12288 characters: the widest marker, "... [12288 more characters cut]", is 31 long, so
    # 4096 - 31 = 4065 are kept and 12288 - 4065 = 8223 are cut.
    assert decoded.error == "x" * 4065 + "... [8223 more characters cut]"
    assert len(decoded.error) <= MAX_TEXT_CHARS
    assert decode(encode(decoded)) == decoded  # a consumer decoding it again cuts nothing more


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"42",
        b'"executor_connected"',
        b"null",
        b"{}",
        b'{"type": "no_such_type"}',
        b'{"type": null}',
        b'{"type": "executor_connected"}',
        b'{"type": "executor_connected", "app": 1, "gateway": "g", "session": {}, "ts_ms": 1}',
        b'{"type": "executor_disconnected", "app": "a", "gateway": "g", "executor_id": "e",'
        b' "conn_id": "c", "close_code": null, "close_reason": "", "draining": "no", "ts_ms": 1}',
        b'{"type": "executor_disconnected", "app": "a", "gateway": "g", "executor_id": "e",'
        b' "conn_id": "c", "close_code": null, "close_reason": "", "draining": false,'
        b' "ts_ms": true}',
        b'{"type": "gateway_heartbeat", "app": "a", "gateway": "g", "sessions": [1], "ts_ms": 1}',
        b'{"type": "command_progress", "app": "a", "command_id": "c", "gateway": "g",'
        b' "executor_id": "e", "status": "exploded", "error": null, "ts_ms": 1}',
        b'{"type": "recovery_decision", "app": "a", "dead_executor_id": "e",'
        b' "application_version": "v", "step": "resurrected", "reason": "", "ts_ms": 1}',
        b'{"type": "recover_executor", "command_id": "c", "app": "a", "target": "t",'
        b' "target_gateway": 5, "dead_executor_id": "d", "issued_at_ms": 1, "timeout_ms": 1}',
        b"[" * 5000 + b"]" * 5000,
        b"1e400",
    ],
)
def test_decode_rejects_malformed_input_with_record_error(raw: bytes) -> None:
    with pytest.raises(RecordError):
        decode(raw)


def test_decode_rejects_a_lone_surrogate_in_text() -> None:
    with pytest.raises(RecordError):
        decode('{"type": "\ud800"}')


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def _decode_or_record_error(raw: bytes | str) -> None:
    try:
        record = decode(raw)
    except RecordError:
        return
    # Whatever decodes is a well-formed record: it encodes and decodes to itself.
    assert decode(encode(record)) == record


@FAST
@given(st.binary(max_size=200))
def test_decode_arbitrary_bytes_raises_only_record_error(raw: bytes) -> None:
    _decode_or_record_error(raw)


@FAST
@given(st.text(max_size=200))
def test_decode_arbitrary_text_raises_only_record_error(raw: str) -> None:
    _decode_or_record_error(raw)


@FAST
@given(json_values)
def test_decode_arbitrary_json_raises_only_record_error(value: object) -> None:
    _decode_or_record_error(json.dumps(value))


ALL_FIELD_NAMES = sorted(
    {
        "app",
        "gateway",
        "session",
        "sessions",
        "info",
        "conn_id",
        "connected_at_ms",
        "executor_id",
        "application_version",
        "hostname",
        "metadata",
        "close_code",
        "close_reason",
        "draining",
        "ts_ms",
        "command_id",
        "status",
        "error",
        "target",
        "target_gateway",
        "dead_executor_id",
        "issued_at_ms",
        "timeout_ms",
        "step",
        "reason",
        "attempt",
        "workflow_id",
        "observed_at_ms",
        "steps",
        "function_id",
        "function_name",
        "cursor",
        "page_size",
        "max_pages",
        "check_active",
        "steps_budget",
        "ok",
        "workflows_seen",
        "requests",
        "more",
        "active_seen",
        "request_id",
        "kind",
        "workflow",
    }
)


@FAST
@given(
    st.sampled_from(list(RecordType)),
    st.dictionaries(st.sampled_from(ALL_FIELD_NAMES) | st.text(max_size=8), json_values),
)
def test_decode_valid_type_with_random_fields_raises_only_record_error(
    kind: RecordType, fields: dict[str, Any]
) -> None:
    _decode_or_record_error(json.dumps({**fields, "type": kind.value}))


@FAST
@given(st.sampled_from(RECORDS), st.data())
def test_decode_valid_record_with_one_field_corrupted_raises_only_record_error(
    record: Record, data: st.DataObject
) -> None:
    fields = orjson.loads(encode(record))
    name = data.draw(st.sampled_from(sorted(k for k in fields if k != "type")))
    if data.draw(st.booleans()):
        del fields[name]
    else:
        fields[name] = data.draw(json_values)
    _decode_or_record_error(json.dumps(fields))


def test_bound_text_keeps_short_text_and_none() -> None:
    assert bound_text(None) is None
    assert bound_text("") == ""
    assert bound_text("a" * MAX_TEXT_CHARS) == "a" * MAX_TEXT_CHARS


def test_bound_text_cuts_long_text_and_says_how_much() -> None:
    # 100 characters, limit 40: the marker for 100, "... [100 more characters cut]", is 29 long;
    # 11 characters are kept and 89 cut.
    assert bound_text("abcdefghij" * 10, limit=40) == "abcdefghija... [89 more characters cut]"
    # 4097 characters: marker "... [4097 more characters cut]" (30), 4066 kept, 31 cut.
    cut = bound_text("y" * (MAX_TEXT_CHARS + 1))
    assert cut == "y" * 4066 + "... [31 more characters cut]"
    assert cut is not None
    assert len(cut) <= MAX_TEXT_CHARS


def test_bound_text_under_a_limit_shorter_than_its_marker_keeps_no_prefix() -> None:
    # The marker alone is longer than the limit: nothing of the text is kept, the count is true.
    assert bound_text("abcdefghij", limit=4) == "... [10 more characters cut]"
    assert bound_text("abcde", limit=0) == "... [5 more characters cut]"


def test_bound_text_is_idempotent_at_the_limits_records_use() -> None:
    for limit, length in [(MAX_TEXT_CHARS, MAX_TEXT_CHARS * 5), (64, 100), (256, 10**6)]:
        once = bound_text("z" * length, limit)
        assert once is not None
        assert len(once) <= limit
        assert bound_text(once, limit) == once


_MARKED = re.compile(r"(.*)\.\.\. \[([0-9]+) more characters cut\]", re.DOTALL)


def _kept_and_cut(text: str) -> tuple[str, int]:
    """The prefix a cut text kept and the count its marker reports."""
    marked = _MARKED.fullmatch(text)
    assert marked is not None, f"no marker at the end of {text[-40:]!r}"
    return marked[1], int(marked[2])


# Text of any characters, often far longer than the limit, with marker-like text inside.
long_texts = st.builds(
    lambda head, length, tail: head + "-" * length + tail,
    st.text(max_size=40) | st.just("... [5 more characters cut]"),
    st.integers(0, 3_000),
    st.text(max_size=40),
)


@FAST
@given(long_texts, st.integers(min_value=64, max_value=2_000))
def test_bound_text_keeps_a_prefix_counts_what_it_cut_and_fits_the_limit(
    text: str, limit: int
) -> None:
    cut = bound_text(text, limit=limit)
    assert cut is not None
    if len(text) <= limit:
        assert cut == text
        return
    assert len(cut) <= limit
    kept, count = _kept_and_cut(cut)
    assert text.startswith(kept)
    assert len(kept) + count == len(text)
    # Only the room the marker needs is given up.
    assert len(kept) == limit - len(f"... [{len(text)} more characters cut]")
    assert bound_text(cut, limit=limit) == cut  # idempotent


@FAST
@given(long_texts, st.integers(min_value=0, max_value=63))
def test_bound_text_under_any_limit_never_misreports_the_cut(text: str, limit: int) -> None:
    cut = bound_text(text, limit=limit)
    assert cut is not None
    if len(text) <= limit:
        assert cut == text
        return
    kept, count = _kept_and_cut(cut)
    assert text.startswith(kept)
    assert len(kept) + count == len(text)


def test_record_key_is_the_app_except_for_commands_workflows_and_replies() -> None:
    for record in RECORDS:
        if isinstance(record, RecoverExecutor | PollWorkflows | ExecutorRequest):
            assert record_key(record) == record.target.encode()
        elif isinstance(record, WorkflowStatus | WorkflowSteps | WorkflowDeleted):
            assert record_key(record) == f"orders/{record.workflow_id}".encode()
        elif isinstance(record, ExecutorReply):
            assert record_key(record) == record.request_id.encode()
        else:
            assert record_key(record) == b"orders"


def test_record_key_of_a_command_is_its_target_not_the_dead_executor() -> None:
    command = next(r for r in RECORDS if isinstance(r, RecoverExecutor))
    assert record_key(command) == b"exec-b"
    assert record_key(command) != command.dead_executor_id.encode()
    assert record_key(command) != command.app.encode()


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.type.value)
def test_peek_type_reads_the_type_encode_wrote_first(record: Record) -> None:
    assert peek_type(encode(record)) is record.type


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b'{"app":"a","type":"gateway_heartbeat"}',  # another writer's order: decode to know
        b'{"type":"no_such_type","app":"a"}',
        b'{"type":"gateway_heartbeat',  # cut short
        b'{"type":"' + b"x" * 200,
        b'{"type":"\xff\xfe"}',
    ],
)
def test_peek_type_knows_nothing_of_other_bytes(raw: bytes) -> None:
    assert peek_type(raw) is None


@given(st.binary(max_size=64))
def test_peek_type_never_raises(raw: bytes) -> None:
    assert peek_type(b'{"type":"' + raw) in (None, *RecordType)
