"""The records of workflow status capture: they round-trip, are keyed for ordering, cut
untrusted payloads on decode, and reject wrong types with ``RecordError`` and nothing else."""

from __future__ import annotations

import json
import re
from dataclasses import fields, replace
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from streams.bounds import MAX_PAYLOAD_CHARS, MAX_STEPS, MAX_TEXT_CHARS, bound_of
from streams.codec import decode, encode, record_key, workflow_key
from streams.exceptions import RecordError
from streams.ids import AppName, CommandId, ExecutorId, GatewayId, RequestId, WorkflowId
from streams.records import (
    CaptureCursor,
    ExecutorReply,
    ExecutorRequest,
    PollResult,
    PollWorkflows,
    Record,
    RequestKind,
    StepInfo,
    WorkflowState,
    WorkflowStatus,
    WorkflowSteps,
)

T0 = 1_700_000_000_000
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies ----------------------------------------------------------------------------------

names = st.text(min_size=1, max_size=16)
texts = st.none() | st.text(max_size=24)
epoch_ms = st.integers(0, 2**53)
opt_ms = st.none() | epoch_ms
app_names = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="/"), min_size=1, max_size=12
)

workflow_statuses = st.builds(
    WorkflowStatus,
    app=app_names.map(AppName),
    workflow_id=names.map(WorkflowId),
    status=st.sampled_from([s.value for s in WorkflowState]) | st.text(max_size=10),
    observed_at_ms=epoch_ms,
    name=texts,
    class_name=texts,
    config_name=texts,
    authenticated_user=texts,
    assumed_role=texts,
    authenticated_roles=texts,
    input=texts,
    output=texts,
    error=texts,
    has_input=st.booleans(),
    has_output=st.booleans(),
    created_at_ms=opt_ms,
    updated_at_ms=opt_ms,
    completed_at_ms=opt_ms,
    dequeued_at_ms=opt_ms,
    queue_name=texts,
    queue_partition_key=texts,
    deduplication_id=texts,
    priority=st.none() | st.integers(-(2**31), 2**31),
    application_version=texts,
    executor_id=texts,
    timeout_ms=opt_ms,
    deadline_epoch_ms=opt_ms,
    delay_until_epoch_ms=opt_ms,
    forked_from=texts,
    was_forked_from=st.booleans(),
    parent_workflow_id=texts,
    attributes=texts,
    schedule_name=texts,
)

step_infos = st.builds(
    StepInfo,
    function_id=st.integers(0, 10**6),
    function_name=st.text(max_size=20),
    output=texts,
    error=texts,
    child_workflow_id=texts,
    started_at_ms=opt_ms,
    completed_at_ms=opt_ms,
)

workflow_steps = st.builds(
    WorkflowSteps,
    app=app_names.map(AppName),
    workflow_id=names.map(WorkflowId),
    steps=st.lists(step_infos, max_size=4).map(tuple),
    observed_at_ms=epoch_ms,
)

cursors = st.builds(
    CaptureCursor,
    created_from_ms=epoch_ms,
    created_skip=st.integers(0, 10**6),
    completed_from_ms=epoch_ms,
    completed_span_ms=st.integers(0, 2**40),
)

poll_commands = st.builds(
    PollWorkflows,
    command_id=names.map(CommandId),
    app=app_names.map(AppName),
    target=names.map(ExecutorId),
    target_gateway=st.none() | names.map(GatewayId),
    cursor=cursors,
    page_size=st.integers(1, 1_000),
    max_pages=st.integers(1, 100),
    check_active=st.booleans(),
    steps_budget=st.integers(0, 100),
    issued_at_ms=epoch_ms,
    timeout_ms=st.integers(0, 10**6),
)

poll_results = st.builds(
    PollResult,
    command_id=names.map(CommandId),
    app=app_names.map(AppName),
    gateway=names.map(GatewayId),
    executor_id=names.map(ExecutorId),
    ok=st.booleans(),
    cursor=cursors,
    workflows_seen=st.integers(0, 10**6),
    requests=st.integers(0, 10**4),
    more=st.booleans(),
    active_seen=st.booleans(),
    ts_ms=epoch_ms,
    error=texts,
)

executor_requests = st.builds(
    ExecutorRequest,
    request_id=names.map(RequestId),
    app=app_names.map(AppName),
    target=names.map(ExecutorId),
    target_gateway=st.none() | names.map(GatewayId),
    kind=st.sampled_from(list(RequestKind)),
    workflow_id=names.map(WorkflowId),
    issued_at_ms=epoch_ms,
    timeout_ms=st.integers(0, 10**6),
)

executor_replies = st.builds(
    ExecutorReply,
    request_id=names.map(RequestId),
    app=app_names.map(AppName),
    executor_id=names.map(ExecutorId),
    gateway=names.map(GatewayId),
    ok=st.booleans(),
    ts_ms=epoch_ms,
    error=texts,
    workflow=st.none() | workflow_statuses,
    steps=st.none() | st.lists(step_infos, max_size=3).map(tuple),
)

capture_records: st.SearchStrategy[Record] = st.one_of(
    workflow_statuses,
    workflow_steps,
    poll_commands,
    poll_results,
    executor_requests,
    executor_replies,
)


# -- round trips and keys ------------------------------------------------------------------------


@FAST
@given(capture_records)
def test_every_capture_record_round_trips(record: Record) -> None:
    raw = encode(record)
    assert orjson.loads(raw)["type"] == record.type.value
    assert decode(raw) == record
    assert decode(raw.decode()) == record


def test_a_bare_workflow_status_round_trips_with_its_defaults() -> None:
    bare = WorkflowStatus(
        app=AppName("orders"), workflow_id=WorkflowId("wf-1"), status="PENDING", observed_at_ms=T0
    )
    assert decode(encode(bare)) == bare
    minimal = decode(
        orjson.dumps(
            {
                "type": "workflow_status",
                "app": "orders",
                "workflow_id": "wf-1",
                "status": "PENDING",
                "observed_at_ms": T0,
            }
        )
    )
    assert minimal == bare


def test_an_executor_reply_distinguishes_no_steps_from_an_empty_list() -> None:
    base: dict[str, Any] = {
        "request_id": RequestId("r1"),
        "app": AppName("orders"),
        "executor_id": ExecutorId("exec-a"),
        "gateway": GatewayId("gw-1"),
        "ok": True,
        "ts_ms": T0,
    }
    for steps in (None, ()):
        reply = ExecutorReply(**base, steps=steps)
        decoded = decode(encode(reply))
        assert isinstance(decoded, ExecutorReply)
        assert decoded.steps == steps


@FAST
@given(st.one_of(workflow_statuses, workflow_steps))
def test_workflow_events_are_keyed_by_app_and_workflow(
    record: WorkflowStatus | WorkflowSteps,
) -> None:
    assert record_key(record) == f"{record.app}/{record.workflow_id}".encode()
    assert record_key(record) == workflow_key(record.app, record.workflow_id)


@FAST
@given(st.one_of(poll_commands, executor_requests))
def test_commands_are_keyed_by_their_target(record: PollWorkflows | ExecutorRequest) -> None:
    assert record_key(record) == record.target.encode()


@FAST
@given(executor_replies)
def test_replies_are_keyed_by_their_request(record: ExecutorReply) -> None:
    assert record_key(record) == record.request_id.encode()


@FAST
@given(poll_results)
def test_poll_results_are_keyed_by_app_like_every_executor_event(record: PollResult) -> None:
    assert record_key(record) == record.app.encode()


def test_one_workflows_records_share_a_key_and_other_workflows_do_not() -> None:
    a = WorkflowStatus(
        app=AppName("orders"), workflow_id=WorkflowId("wf-1"), status="PENDING", observed_at_ms=1
    )
    steps = WorkflowSteps(
        app=AppName("orders"), workflow_id=WorkflowId("wf-1"), steps=(), observed_at_ms=2
    )
    other_app = WorkflowStatus(
        app=AppName("billing"), workflow_id=WorkflowId("wf-1"), status="PENDING", observed_at_ms=1
    )
    assert record_key(a) == record_key(steps) == b"orders/wf-1"
    assert record_key(other_app) == b"billing/wf-1"


# -- bounds on decode ----------------------------------------------------------------------------


def _cut(text: str | None, limit: int, length: int) -> None:
    """``text`` is ``"x" * length`` cut to ``limit``: as much of it as the marker leaves room
    for, then the true count of what was cut, within the limit."""
    assert text is not None
    assert len(text) <= limit
    cut = re.fullmatch(r"(x*)\.\.\. \[([0-9]+) more characters cut\]", text)
    assert cut is not None, text[-60:]
    kept = len(cut[1])
    assert kept + int(cut[2]) == length
    assert kept == limit - len(f"... [{length} more characters cut]")


def test_workflow_payloads_longer_than_the_limit_are_cut_on_decode() -> None:
    record = WorkflowStatus(
        app=AppName("orders"),
        workflow_id=WorkflowId("wf-1"),
        status="ERROR",
        observed_at_ms=T0,
        input="x" * (MAX_PAYLOAD_CHARS + 10),
        output="x" * (MAX_PAYLOAD_CHARS + 1),
        error="x" * (MAX_TEXT_CHARS + 7),
        has_input=True,
        has_output=True,
    )
    decoded = decode(encode(record))
    assert isinstance(decoded, WorkflowStatus)
    # 65546 characters: marker "... [65546 more characters cut]" (31), 65505 kept, 41 cut.
    assert decoded.input == "x" * 65_505 + "... [41 more characters cut]"
    _cut(decoded.input, MAX_PAYLOAD_CHARS, MAX_PAYLOAD_CHARS + 10)
    _cut(decoded.output, MAX_PAYLOAD_CHARS, MAX_PAYLOAD_CHARS + 1)
    _cut(decoded.error, MAX_TEXT_CHARS, MAX_TEXT_CHARS + 7)


def test_every_text_field_of_a_status_is_bounded_on_decode_as_it_declares() -> None:
    bounds = {f.name: b for f in fields(WorkflowStatus) if (b := bound_of(f)) is not None}
    assert {"status", "name", "input", "error", "forked_from"} <= set(bounds)
    over: dict[str, Any] = {name: "x" * (bound.max_chars + 1) for name, bound in bounds.items()}
    record = WorkflowStatus(
        app=AppName("orders"), workflow_id=WorkflowId("wf-1"), observed_at_ms=T0, **over
    )
    decoded = decode(encode(record))
    assert isinstance(decoded, WorkflowStatus)
    for name, bound in bounds.items():
        value = getattr(decoded, name)
        if bound.whole:
            assert value is None, name  # an id is never cut: a cut one names another workflow
        else:
            _cut(value, bound.max_chars, bound.max_chars + 1)
    at_limit: dict[str, Any] = {name: "y" * bound.max_chars for name, bound in bounds.items()}
    whole = replace(record, **at_limit)
    assert decode(encode(whole)) == whole


def test_payloads_at_the_limit_are_kept_whole() -> None:
    record = WorkflowStatus(
        app=AppName("orders"),
        workflow_id=WorkflowId("wf-1"),
        status="SUCCESS",
        observed_at_ms=T0,
        input="x" * MAX_PAYLOAD_CHARS,
        output="y" * MAX_PAYLOAD_CHARS,
        error="z" * MAX_TEXT_CHARS,
    )
    assert decode(encode(record)) == record


def test_step_outputs_and_errors_are_cut_and_steps_are_capped_on_decode() -> None:
    long_step = StepInfo(
        function_id=0,
        function_name="charge",
        output="x" * (MAX_PAYLOAD_CHARS + 3),
        error="x" * (MAX_TEXT_CHARS + 4),
    )
    many = tuple(StepInfo(function_id=i, function_name=f"s{i}") for i in range(1, MAX_STEPS + 5))
    record = WorkflowSteps(
        app=AppName("orders"),
        workflow_id=WorkflowId("wf-1"),
        steps=(long_step, *many),
        observed_at_ms=T0,
    )
    decoded = decode(encode(record))
    assert isinstance(decoded, WorkflowSteps)
    assert len(decoded.steps) == MAX_STEPS
    assert decoded.steps[1:] == many[: MAX_STEPS - 1]
    _cut(decoded.steps[0].output, MAX_PAYLOAD_CHARS, MAX_PAYLOAD_CHARS + 3)
    _cut(decoded.steps[0].error, MAX_TEXT_CHARS, MAX_TEXT_CHARS + 4)


def test_errors_of_results_and_replies_are_cut_on_decode() -> None:
    result = PollResult(
        command_id=CommandId("poll:1"),
        app=AppName("orders"),
        gateway=GatewayId("gw-1"),
        executor_id=ExecutorId("exec-a"),
        ok=False,
        cursor=CaptureCursor(),
        workflows_seen=0,
        requests=1,
        more=False,
        active_seen=False,
        ts_ms=T0,
        error="x" * (MAX_TEXT_CHARS * 2),
    )
    decoded = decode(encode(result))
    assert isinstance(decoded, PollResult)
    _cut(decoded.error, MAX_TEXT_CHARS, MAX_TEXT_CHARS * 2)

    workflow = WorkflowStatus(
        app=AppName("orders"),
        workflow_id=WorkflowId("wf-1"),
        status="SUCCESS",
        observed_at_ms=T0,
        input="x" * (MAX_PAYLOAD_CHARS + 2),
    )
    reply = ExecutorReply(
        request_id=RequestId("r1"),
        app=AppName("orders"),
        executor_id=ExecutorId("exec-a"),
        gateway=GatewayId("gw-1"),
        ok=True,
        ts_ms=T0,
        error="x" * (MAX_TEXT_CHARS + 1),
        workflow=workflow,
        steps=tuple(StepInfo(function_id=i, function_name="s") for i in range(MAX_STEPS + 1)),
    )
    got = decode(encode(reply))
    assert isinstance(got, ExecutorReply)
    _cut(got.error, MAX_TEXT_CHARS, MAX_TEXT_CHARS + 1)
    assert got.workflow is not None
    _cut(got.workflow.input, MAX_PAYLOAD_CHARS, MAX_PAYLOAD_CHARS + 2)
    assert got.steps is not None
    assert len(got.steps) == MAX_STEPS


def test_decoding_a_cut_record_again_changes_nothing() -> None:
    record = WorkflowStatus(
        app=AppName("orders"),
        workflow_id=WorkflowId("wf-1"),
        status="SUCCESS",
        observed_at_ms=T0,
        input="x" * (MAX_PAYLOAD_CHARS + 40_000),
        has_input=True,
    )
    once = decode(encode(record))
    assert decode(encode(once)) == once


# -- malformed input -----------------------------------------------------------------------------


def _minimal(kind: str) -> dict[str, Any]:
    cursor = {"created_from_ms": 0, "created_skip": 0, "completed_from_ms": 0}
    minimal: dict[str, dict[str, Any]] = {
        "workflow_status": {
            "app": "a",
            "workflow_id": "w",
            "status": "PENDING",
            "observed_at_ms": 1,
        },
        "workflow_steps": {
            "app": "a",
            "workflow_id": "w",
            "steps": [{"function_id": 1, "function_name": "f"}],
            "observed_at_ms": 1,
        },
        "poll_workflows": {
            "command_id": "c",
            "app": "a",
            "target": "t",
            "target_gateway": None,
            "cursor": cursor,
            "page_size": 1,
            "max_pages": 1,
            "check_active": True,
            "steps_budget": 0,
            "issued_at_ms": 1,
            "timeout_ms": 1,
        },
        "poll_result": {
            "command_id": "c",
            "app": "a",
            "gateway": "g",
            "executor_id": "e",
            "ok": True,
            "cursor": cursor,
            "workflows_seen": 0,
            "requests": 0,
            "more": False,
            "active_seen": False,
            "ts_ms": 1,
        },
        "executor_request": {
            "request_id": "r",
            "app": "a",
            "target": "t",
            "target_gateway": "g",
            "kind": "get_workflow",
            "workflow_id": "w",
            "issued_at_ms": 1,
            "timeout_ms": 1,
        },
        "executor_reply": {
            "request_id": "r",
            "app": "a",
            "executor_id": "e",
            "gateway": "g",
            "ok": True,
            "ts_ms": 1,
        },
    }
    return {**minimal[kind], "type": kind}


KINDS = [
    "workflow_status",
    "workflow_steps",
    "poll_workflows",
    "poll_result",
    "executor_request",
    "executor_reply",
]


@pytest.mark.parametrize("kind", KINDS)
def test_the_minimal_record_of_each_kind_decodes(kind: str) -> None:
    record = decode(orjson.dumps(_minimal(kind)))
    assert record.type.value == kind


@pytest.mark.parametrize(
    ("kind", "changes"),
    [
        ("workflow_status", {"observed_at_ms": "1"}),
        ("workflow_status", {"observed_at_ms": True}),
        ("workflow_status", {"observed_at_ms": 1.5}),
        ("workflow_status", {"has_input": "yes"}),
        ("workflow_status", {"has_output": 1}),
        ("workflow_status", {"created_at_ms": True}),
        ("workflow_status", {"updated_at_ms": "17"}),
        ("workflow_status", {"input": {"nested": 1}}),
        ("workflow_status", {"status": None}),
        ("workflow_status", {"workflow_id": 5}),
        ("workflow_steps", {"steps": [1]}),
        ("workflow_steps", {"steps": {"function_id": 1}}),
        ("workflow_steps", {"steps": [{"function_id": "1", "function_name": "f"}]}),
        ("workflow_steps", {"steps": [{"function_name": "f"}]}),
        ("poll_workflows", {"cursor": "start"}),
        ("poll_workflows", {"cursor": {"created_from_ms": 0}}),
        ("poll_workflows", {"cursor": {"created_from_ms": "0", "created_skip": 0}}),
        ("poll_workflows", {"check_active": None}),
        ("poll_workflows", {"target_gateway": 7}),
        ("poll_result", {"ok": "true"}),
        ("poll_result", {"more": None}),
        ("poll_result", {"error": ["boom"]}),
        ("executor_request", {"kind": "delete_workflow"}),
        ("executor_request", {"kind": None}),
        ("executor_reply", {"workflow": "wf"}),
        ("executor_reply", {"workflow": {"app": "a"}}),
        ("executor_reply", {"steps": [None]}),
        ("executor_reply", {"ok": 1}),
    ],
)
def test_decode_rejects_wrong_types_with_record_error(kind: str, changes: dict[str, Any]) -> None:
    with pytest.raises(RecordError):
        decode(orjson.dumps(_minimal(kind) | changes))


def _type_of(value: object) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}[
        type(value)
    ]


OTHER_TYPED = {
    "bool": st.booleans(),
    "int": st.integers(-(2**40), 2**40),
    "float": st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)),
    "str": st.text(max_size=8),
    "list": st.lists(st.integers() | st.text(max_size=3), max_size=2),
    "dict": st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
}


def _paths(value: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every non-null place in a decoded record (the ``type`` discriminator excepted)."""
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            if prefix == () and key == "type":
                continue
            if child is not None:
                out.append((*prefix, key))
                out.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.append((*prefix, index))
            out.extend(_paths(child, (*prefix, index)))
    return out


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@FAST
@given(capture_records, st.data())
def test_a_field_of_the_wrong_type_anywhere_raises_record_error(
    record: Record, data: st.DataObject
) -> None:
    fields = orjson.loads(encode(record))
    paths = _paths(fields)
    assume(paths)
    path = data.draw(st.sampled_from(paths))
    current = _type_of(_get(fields, path))
    wrong = data.draw(st.sampled_from(sorted(t for t in OTHER_TYPED if t != current)))
    _get(fields, path[:-1])[path[-1]] = data.draw(OTHER_TYPED[wrong])
    with pytest.raises(RecordError):
        decode(json.dumps(fields))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


@FAST
@given(capture_records, st.data())
def test_a_mutated_record_decodes_to_a_well_formed_record_or_raises_record_error(
    record: Record, data: st.DataObject
) -> None:
    fields = orjson.loads(encode(record))
    paths = _paths(fields)
    assume(paths)
    path = data.draw(st.sampled_from(paths))
    parent = _get(fields, path[:-1])
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(json_values)
    try:
        decoded = decode(json.dumps(fields))
    except RecordError:
        return
    assert decode(encode(decoded)) == decoded


@FAST
@given(st.sampled_from(KINDS), st.dictionaries(st.text(max_size=10), json_values, max_size=8))
def test_random_fields_under_a_capture_type_raise_only_record_error(
    kind: str, fields: dict[str, Any]
) -> None:
    try:
        decoded = decode(json.dumps({**fields, "type": kind}))
    except RecordError:
        return
    assert decode(encode(decoded)) == decoded
