"""DBOS observability verbs: the requests DBOS's own parsers read, and replies built with DBOS's
own dataclasses (``dbos._conductor.protocol``, ``dbos==2.31.1``) read into Baton records."""

from __future__ import annotations

import datetime
import json
from dataclasses import replace
from typing import Any, cast

import pytest
from dbos._conductor import protocol as p
from dbos._sys_db import StepInfo as DbosStepInfo
from dbos._sys_db import WorkflowStatus as DbosWorkflowStatus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.protocol import ExecutorSession, MessageType, Reply, Request, decode_reply
from gateway.queries import (
    WorkflowQuery,
    dbos_time,
    get_workflow_request,
    list_steps_request,
    list_workflows_request,
    newest,
    read_get_workflow,
    read_steps,
    read_workflow,
    read_workflows,
)
from streams.bounds import MAX_ID_CHARS, MAX_PAYLOAD_CHARS, MAX_STEPS, MAX_TEXT_CHARS
from streams.ids import AppName, RequestId, WorkflowId
from streams.records import StepInfo, WorkflowStatus

T0 = 1_700_000_000_000
APP = AppName("orders")
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dbos_parse(text: str | None) -> int:
    """How DBOS reads ``start_time``/``completed_after`` (``_sys_db.py`` ``list_workflows``)."""
    assert text is not None
    return int(datetime.datetime.fromisoformat(text).timestamp() * 1000)


def frame_of(request: Request) -> str:
    """The text the gateway sends for ``request`` (through the real session)."""
    session = ExecutorSession("conn")
    session.request(request)
    (frame,) = session.data_to_send()
    return frame


def dbos_reply(message: Any) -> Reply:
    """A DBOS response dataclass as DBOS sends it (``to_json``), read as the gateway reads it."""
    return decode_reply(message.to_json())


def dbos_status(**overrides: Any) -> DbosWorkflowStatus:
    """A DBOS ``WorkflowStatus`` with every field set (the object its system DB returns)."""
    info = DbosWorkflowStatus()
    values: dict[str, Any] = {
        "workflow_id": "wf-1",
        "status": "SUCCESS",
        "name": "checkout",
        "class_name": "Shop",
        "config_name": "eu-shop",
        "authenticated_user": "alice",
        "assumed_role": "admin",
        "authenticated_roles": ["admin", "ops"],
        "input": '{"args": [1, 2], "kwargs": {}}',
        "output": '{"ok": true}',
        "error": None,
        "created_at": T0,
        "updated_at": T0 + 50,
        "queue_name": "orders-q",
        "executor_id": "exec-a",
        "app_version": "v7",
        "workflow_timeout_ms": 60_000,
        "workflow_deadline_epoch_ms": T0 + 60_000,
        "deduplication_id": "dedup-1",
        "priority": 3,
        "queue_partition_key": "tenant-9",
        "forked_from": "wf-0",
        "was_forked_from": True,
        "parent_workflow_id": "wf-parent",
        "dequeued_at": T0 + 10,
        "delay_until_epoch_ms": T0 + 5,
        "completed_at": T0 + 50,
        "attributes": {"region": "eu", "n": 1},
        "schedule_name": "nightly",
        "application_name": "orders",
        "app_id": None,
        "recovery_attempts": 1,
    }
    values.update(overrides)
    for name, value in values.items():
        setattr(info, name, value)
    return info


def list_reply(*infos: DbosWorkflowStatus, error: str | None = None) -> Reply:
    return dbos_reply(
        p.ListWorkflowsResponse(
            type=p.MessageType.LIST_WORKFLOWS,
            request_id="conn-1",
            output=[p.WorkflowsOutput.from_workflow_information(i) for i in infos],
            error_message=error,
        )
    )


def raw_reply(output: object, type_: MessageType = MessageType.LIST_WORKFLOWS) -> Reply:
    return Reply(type=type_, request_id=RequestId("conn-1"), data={"output": output})


# -- time ----------------------------------------------------------------------------------------


@FAST
@given(st.integers(0, 253_402_300_799_999))  # up to the last millisecond of year 9999
def test_dbos_time_reads_back_exactly_through_dbos_parsing(epoch_ms: int) -> None:
    assert dbos_parse(dbos_time(epoch_ms)) == epoch_ms


@pytest.mark.parametrize("epoch_ms", [0, 1, 999, 1_000, T0, T0 + 1, T0 + 999, 2**41 - 1])
def test_dbos_time_at_edges(epoch_ms: int) -> None:
    text = dbos_time(epoch_ms)
    assert text.endswith("+00:00")  # an aware UTC instant: no host time zone involved
    assert dbos_parse(text) == epoch_ms


# -- requests ------------------------------------------------------------------------------------


def test_list_workflows_request_carries_every_filter_under_dbos_names() -> None:
    query = WorkflowQuery(
        created_from_ms=T0,
        completed_from_ms=T0 + 7,
        statuses=("PENDING", "ENQUEUED"),
        workflow_ids=("wf-1", "wf-2"),
        load_input=True,
        load_output=False,
        limit=25,
        offset=50,
    )
    request = list_workflows_request(query)
    assert request.type is MessageType.LIST_WORKFLOWS
    parsed = p.ListWorkflowsRequest.from_json(frame_of(request))
    assert parsed.type == "list_workflows"
    body = parsed.body
    assert set(body) <= set(p.ListWorkflowsBody.__annotations__)
    assert dbos_parse(body["start_time"]) == T0
    assert dbos_parse(body["completed_after"]) == T0 + 7
    assert body["status"] == ["PENDING", "ENQUEUED"]
    assert body["workflow_uuids"] == ["wf-1", "wf-2"]
    assert (body["limit"], body["offset"]) == (25, 50)
    assert body["sort_desc"] is False
    assert (body["load_input"], body["load_output"]) == (True, False)


def test_list_workflows_request_omits_unset_filters() -> None:
    body = p.ListWorkflowsRequest.from_json(frame_of(list_workflows_request(WorkflowQuery()))).body
    assert body == {
        "limit": 100,
        "offset": 0,
        "sort_desc": False,
        "load_input": False,
        "load_output": False,
    }


def test_a_recheck_query_lists_newest_first_up_to_an_exclusive_creation_time() -> None:
    query = WorkflowQuery(created_from_ms=T0, created_before_ms=T0 + 100, newest_first=True)
    body = p.ListWorkflowsRequest.from_json(frame_of(list_workflows_request(query))).body
    assert dbos_parse(body["end_time"]) == T0 + 99  # DBOS: created_at <= end_time
    assert body["sort_desc"] is True


def test_a_creation_query_from_the_epoch_still_sends_a_start_time() -> None:
    body = p.ListWorkflowsRequest.from_json(
        frame_of(list_workflows_request(WorkflowQuery(created_from_ms=0)))
    ).body
    assert body["start_time"]  # DBOS filters only on a truthy string
    assert dbos_parse(body["start_time"]) == 0


def test_get_workflow_and_list_steps_requests_parse_as_dbos_requests() -> None:
    get = p.GetWorkflowRequest.from_json(frame_of(get_workflow_request("wf-9")))
    assert (get.type, get.workflow_id, get.load_input, get.load_output) == (
        "get_workflow",
        "wf-9",
        True,
        True,
    )
    steps = p.ListStepsRequest.from_json(frame_of(list_steps_request("wf-9")))
    assert (steps.type, steps.workflow_id, steps.load_output, steps.limit, steps.offset) == (
        "list_steps",
        "wf-9",
        True,
        MAX_STEPS,
        None,
    )


def test_without_payloads_the_lookups_ask_dbos_to_load_none() -> None:
    get = p.GetWorkflowRequest.from_json(frame_of(get_workflow_request("wf-9", payloads=False)))
    assert (get.load_input, get.load_output) == (False, False)
    steps = p.ListStepsRequest.from_json(frame_of(list_steps_request("wf-9", payloads=False)))
    assert (steps.load_output, steps.limit) == (False, MAX_STEPS)


# -- list_workflows / get_workflow replies -------------------------------------------------------


def test_read_workflow_maps_every_field_of_a_dbos_workflows_output() -> None:
    (status,) = read_workflows(
        list_reply(dbos_status()), APP, T0 + 99, has_input=True, has_output=True
    )
    assert status == WorkflowStatus(
        app=APP,
        workflow_id=WorkflowId("wf-1"),
        status="SUCCESS",
        observed_at_ms=T0 + 99,
        name="checkout",
        class_name="Shop",
        config_name="eu-shop",
        authenticated_user="alice",
        assumed_role="admin",
        authenticated_roles="['admin', 'ops']",  # DBOS sends str(list)
        input='{"args": [1, 2], "kwargs": {}}',
        output='{"ok": true}',
        error=None,
        has_input=True,
        has_output=True,
        created_at_ms=T0,
        updated_at_ms=T0 + 50,
        completed_at_ms=T0 + 50,
        dequeued_at_ms=T0 + 10,
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
        attributes='{"region": "eu", "n": 1}',
        schedule_name="nightly",
    )


def test_read_workflow_of_a_sparse_dbos_output() -> None:
    sparse = dbos_status(
        status="PENDING",
        class_name=None,
        config_name=None,
        authenticated_user=None,
        assumed_role=None,
        authenticated_roles=None,
        input=None,
        output=None,
        completed_at=None,
        dequeued_at=None,
        queue_name=None,
        queue_partition_key=None,
        deduplication_id=None,
        priority=None,
        workflow_timeout_ms=None,
        workflow_deadline_epoch_ms=None,
        delay_until_epoch_ms=None,
        forked_from=None,
        was_forked_from=False,
        parent_workflow_id=None,
        attributes=None,
        schedule_name=None,
    )
    (status,) = read_workflows(list_reply(sparse), APP, T0, has_input=True, has_output=True)
    assert status == WorkflowStatus(
        app=APP,
        workflow_id=WorkflowId("wf-1"),
        status="PENDING",
        observed_at_ms=T0,
        name="checkout",
        has_input=True,
        has_output=True,
        created_at_ms=T0,
        updated_at_ms=T0 + 50,
        application_version="v7",
        executor_id="exec-a",
    )


def test_a_dbos_error_is_read_as_text() -> None:
    failed = dbos_status(status="ERROR", output=None, error=ValueError("card declined"))
    (status,) = read_workflows(list_reply(failed), APP, T0, has_input=True, has_output=True)
    assert (status.status, status.error, status.output) == ("ERROR", "card declined", None)


def test_payloads_not_loaded_are_not_claimed() -> None:
    (status,) = read_workflows(
        list_reply(dbos_status(error=RuntimeError("x"))),
        APP,
        T0,
        has_input=False,
        has_output=False,
    )
    assert (status.input, status.output, status.error) == (None, None, None)
    assert (status.has_input, status.has_output) == (False, False)


def test_read_workflows_keeps_the_executors_order() -> None:
    infos = [dbos_status(workflow_id=f"wf-{i}", created_at=T0 + i) for i in (3, 1, 2)]
    statuses = read_workflows(list_reply(*infos), APP, T0, has_input=False, has_output=False)
    assert [s.workflow_id for s in statuses] == ["wf-3", "wf-1", "wf-2"]
    assert newest(statuses, "created_at_ms") == T0 + 3
    assert newest(statuses, "completed_at_ms") == T0 + 50
    assert newest([], "created_at_ms") is None


@pytest.mark.parametrize(
    "item",
    [
        {"Status": "SUCCESS"},
        {"WorkflowUUID": None, "Status": "SUCCESS"},
        {"WorkflowUUID": "", "Status": "SUCCESS"},
        {"WorkflowUUID": 42, "Status": "SUCCESS"},
        {"WorkflowUUID": ["wf-1"]},
        "wf-1",
        None,
        7,
        ["WorkflowUUID", "wf-1"],
    ],
)
def test_items_without_a_workflow_id_are_dropped(item: object) -> None:
    assert read_workflow(item, APP, T0, has_input=True, has_output=True) is None
    kept = {"WorkflowUUID": "wf-2", "Status": "PENDING"}
    statuses = read_workflows(raw_reply([item, kept]), APP, T0, has_input=False, has_output=False)
    assert [s.workflow_id for s in statuses] == ["wf-2"]


@pytest.mark.parametrize("output", [None, "nope", 3, {"WorkflowUUID": "wf-1"}])
def test_a_list_reply_without_a_list_reads_as_no_workflows(output: object) -> None:
    assert read_workflows(raw_reply(output), APP, T0, has_input=True, has_output=True) == []


def test_read_workflow_tolerates_wrong_types_as_absent() -> None:
    item = {
        "WorkflowUUID": "wf-1",
        "Status": 5,
        "WorkflowName": ["checkout"],
        "Input": {"args": []},
        "CreatedAt": "yesterday",
        "UpdatedAt": True,
        "CompletedAt": 1.5,
        "DequeuedAt": "1.5",
        "Priority": [],
        "WorkflowTimeoutMS": "-",
        "ExecutorID": 3,
        "WasForkedFrom": "true",
        "QueueName": None,
    }
    status = read_workflow(item, APP, T0, has_input=True, has_output=True)
    assert status == WorkflowStatus(
        app=APP,
        workflow_id=WorkflowId("wf-1"),
        status="UNKNOWN",
        observed_at_ms=T0,
        has_input=True,
        has_output=True,
    )


def test_read_workflow_accepts_numbers_as_integers_or_their_text() -> None:
    item = {
        "WorkflowUUID": "wf-1",
        "Status": "PENDING",
        "CreatedAt": T0,
        "UpdatedAt": str(T0 + 1),
        "Priority": "-4",
        "WorkflowTimeoutMS": "0",
        "CompletedAt": "9" * 25,  # too long to be an epoch: absent
    }
    status = read_workflow(item, APP, T0, has_input=False, has_output=False)
    assert status is not None
    assert (status.created_at_ms, status.updated_at_ms, status.priority, status.timeout_ms) == (
        T0,
        T0 + 1,
        -4,
        0,
    )
    assert status.completed_at_ms is None


@pytest.mark.parametrize("text", ["--5", "²", "1²", "-①"])
def test_read_workflow_reads_non_numeric_number_text_as_absent(text: str) -> None:
    item = {"WorkflowUUID": "wf-1", "Status": "PENDING", "CreatedAt": text}
    status = read_workflow(item, APP, T0, has_input=False, has_output=False)
    assert status is not None
    assert status.created_at_ms is None


def test_read_workflow_bounds_long_texts() -> None:
    item = {
        "WorkflowUUID": "wf-1",
        "Status": "S" * 100,
        "WorkflowName": "n" * 1_000,
        "Input": "i" * (MAX_PAYLOAD_CHARS + 5),
        "Output": "o" * (MAX_PAYLOAD_CHARS + 6),
        "Error": "e" * (MAX_TEXT_CHARS * 2),
        "AuthenticatedRoles": "r" * 5_000,
    }
    status = read_workflow(item, APP, T0, has_input=True, has_output=True)
    assert status is not None
    assert status.workflow_id == "wf-1"
    # Each is cut to its limit, keeping what the widest marker for its length leaves room for:
    # Status, limit 64, marker "... [100 more characters cut]" (29): 35 kept, 65 cut.
    assert status.status == "S" * 35 + "... [65 more characters cut]"
    # WorkflowName, limit 256, marker for 1000 (30): 226 kept, 774 cut.
    assert status.name == "n" * 226 + "... [774 more characters cut]"
    # Input and Output, limit 65536, markers for 65541 and 65542 (31): 65505 kept.
    assert status.input == "i" * 65_505 + "... [36 more characters cut]"
    assert status.output == "o" * 65_505 + "... [37 more characters cut]"
    # Error, limit 4096, marker for 8192 (30): 4066 kept, 4126 cut.
    assert status.error == "e" * 4_066 + "... [4126 more characters cut]"
    # AuthenticatedRoles, limit 4096, marker for 5000 (30): 4066 kept, 934 cut.
    assert status.authenticated_roles == "r" * 4_066 + "... [934 more characters cut]"
    for text, limit in [
        (status.status, 64),
        (status.name, 256),
        (status.input, MAX_PAYLOAD_CHARS),
        (status.output, MAX_PAYLOAD_CHARS),
        (status.error, MAX_TEXT_CHARS),
        (status.authenticated_roles, 4096),
    ]:
        assert text is not None
        assert len(text) <= limit


def test_an_item_whose_workflow_id_is_too_long_is_dropped_not_cut() -> None:
    longest = "w" * MAX_ID_CHARS
    too_long = "w" * (MAX_ID_CHARS + 1)
    # A cut id would name another workflow (or none): the item is unaddressable, so dropped.
    assert (
        read_workflow(
            {"WorkflowUUID": too_long, "Status": "SUCCESS"},
            APP,
            T0,
            has_input=False,
            has_output=False,
        )
        is None
    )
    kept = read_workflow(
        {"WorkflowUUID": longest, "Status": "SUCCESS"}, APP, T0, has_input=False, has_output=False
    )
    assert kept is not None
    assert kept.workflow_id == longest  # exactly at the limit: kept whole
    items = [
        {"WorkflowUUID": too_long, "Status": "ERROR"},
        {"WorkflowUUID": longest, "Status": "SUCCESS"},
        {"WorkflowUUID": "wf-2", "Status": "PENDING"},
    ]
    statuses = read_workflows(raw_reply(items), APP, T0, has_input=False, has_output=False)
    assert [(s.workflow_id, s.status) for s in statuses] == [
        (longest, "SUCCESS"),
        ("wf-2", "PENDING"),
    ]


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
WORKFLOWS_OUTPUT_FIELDS = [f for f in p.WorkflowsOutput.__annotations__]


@FAST
@given(
    st.dictionaries(
        st.sampled_from(WORKFLOWS_OUTPUT_FIELDS) | st.text(max_size=6),
        json_values | st.integers().map(str) | st.sampled_from(["--5", "²", "1²", "-①", "+7"]),
        max_size=12,
    ),
    st.booleans(),
    st.booleans(),
)
def test_read_workflow_never_raises_and_yields_a_well_formed_status(
    item: dict[str, Any], has_input: bool, has_output: bool
) -> None:
    item = {"WorkflowUUID": "wf-1", **item}
    status = read_workflow(item, APP, T0, has_input=has_input, has_output=has_output)
    if status is not None:
        assert status.workflow_id
        assert has_input or status.input is None
        assert has_output or (status.output is None and status.error is None)


def test_a_get_workflow_reply_with_the_workflow() -> None:
    reply = dbos_reply(
        p.GetWorkflowResponse(
            type=p.MessageType.GET_WORKFLOW,
            request_id="conn-1",
            output=p.WorkflowsOutput.from_workflow_information(dbos_status()),
        )
    )
    status = read_get_workflow(reply, APP, T0)
    assert status is not None
    assert (status.workflow_id, status.has_input, status.has_output) == ("wf-1", True, True)
    assert status.input == '{"args": [1, 2], "kwargs": {}}'


def test_a_get_workflow_reply_read_without_payloads_drops_what_the_executor_sent() -> None:
    """An executor that ignores ``load_input``/``load_output`` (an older DBOS) still sends them:
    read without payloads, they are gone, and the status says it carried none."""
    sent = dbos_status(error=ValueError("card 4111"), output={"receipt": 1})
    reply = dbos_reply(
        p.GetWorkflowResponse(
            type=p.MessageType.GET_WORKFLOW,
            request_id="conn-1",
            output=p.WorkflowsOutput.from_workflow_information(sent),
        )
    )
    assert reply.data["output"]["Input"]
    assert reply.data["output"]["Output"]
    status = read_get_workflow(reply, APP, T0, payloads=False)
    full = read_get_workflow(reply, APP, T0)
    assert status is not None
    assert full is not None
    assert (status.input, status.output, status.error) == (None, None, None)
    assert (status.has_input, status.has_output) == (False, False)
    assert status == replace(
        full,
        input=None,
        output=None,
        error=None,
        has_input=False,
        has_output=False,
    )


def test_a_get_workflow_reply_with_output_null_is_none() -> None:
    reply = dbos_reply(
        p.GetWorkflowResponse(type=p.MessageType.GET_WORKFLOW, request_id="conn-1", output=None)
    )
    assert "output" in reply.data
    assert reply.data["output"] is None
    assert read_get_workflow(reply, APP, T0) is None


def test_an_error_reply_carries_the_executors_error_bounded() -> None:
    reply = list_reply(error="Traceback (most recent call last):\n" + "x" * MAX_TEXT_CHARS)
    assert reply.error_message is not None
    assert reply.error_message.startswith("Traceback")
    assert len(reply.error_message) <= MAX_TEXT_CHARS
    assert read_workflows(reply, APP, T0, has_input=True, has_output=True) == []


# -- list_steps replies --------------------------------------------------------------------------


def dbos_step(function_id: int, **overrides: Any) -> Any:
    info: dict[str, Any] = {
        "function_id": function_id,
        "function_name": f"step_{function_id}",
        "output": {"n": function_id},
        "error": None,
        "child_workflow_id": None,
        "started_at_epoch_ms": T0 + function_id,
        "completed_at_epoch_ms": T0 + function_id + 1,
    }
    info.update(overrides)
    return p.WorkflowSteps.from_step_info(cast(DbosStepInfo, info))


def steps_reply(steps: list[Any] | None) -> Reply:
    return dbos_reply(
        p.ListStepsResponse(type=p.MessageType.LIST_STEPS, request_id="conn-1", output=steps)
    )


def test_read_steps_of_dbos_workflow_steps() -> None:
    reply = steps_reply(
        [
            dbos_step(0),
            dbos_step(1, output=None, error=KeyError("sku"), child_workflow_id="wf-child"),
            dbos_step(2, started_at_epoch_ms=None, completed_at_epoch_ms=None, output=None),
        ]
    )
    assert read_steps(reply) == (
        StepInfo(
            function_id=0,
            function_name="step_0",
            output="{'n': 0}",  # DBOS sends str(output)
            started_at_ms=T0,
            completed_at_ms=T0 + 1,
        ),
        StepInfo(
            function_id=1,
            function_name="step_1",
            error="'sku'",
            child_workflow_id="wf-child",
            started_at_ms=T0 + 1,
            completed_at_ms=T0 + 2,
        ),
        StepInfo(function_id=2, function_name="step_2"),
    )


def test_read_steps_without_payloads_drops_outputs_and_errors_sent_anyway() -> None:
    reply = steps_reply(
        [dbos_step(0), dbos_step(1, error=KeyError("4111"), child_workflow_id="wf-child")]
    )
    assert read_steps(reply, payloads=False) == (
        StepInfo(function_id=0, function_name="step_0", started_at_ms=T0, completed_at_ms=T0 + 1),
        StepInfo(
            function_id=1,
            function_name="step_1",
            child_workflow_id="wf-child",
            started_at_ms=T0 + 1,
            completed_at_ms=T0 + 2,
        ),
    )


def test_read_steps_without_output_is_none_and_an_empty_list_is_empty() -> None:
    assert read_steps(steps_reply(None)) is None
    assert read_steps(steps_reply([])) == ()


def test_read_steps_drops_malformed_items_and_caps_the_count() -> None:
    items: list[object] = [
        {"function_name": "no id"},
        {"function_id": "x", "function_name": "bad id"},
        "step",
        None,
        {"function_id": "7", "function_name": 9, "output": "o" * (MAX_PAYLOAD_CHARS + 1)},
    ]
    (step,) = read_steps(raw_reply(items, MessageType.LIST_STEPS)) or ()
    assert (step.function_id, step.function_name) == (7, "")
    # 65537 characters: marker "... [65537 more characters cut]" (31), 65505 kept, 32 cut.
    assert step.output == "o" * 65_505 + "... [32 more characters cut]"
    assert len(step.output) <= MAX_PAYLOAD_CHARS
    many = [{"function_id": i, "function_name": "s"} for i in range(MAX_STEPS + 10)]
    capped = read_steps(raw_reply(many, MessageType.LIST_STEPS))
    assert capped is not None
    assert [s.function_id for s in capped] == list(range(MAX_STEPS))


@FAST
@given(st.lists(json_values, max_size=5) | json_values)
def test_read_steps_never_raises(output: object) -> None:
    steps = read_steps(raw_reply(json.loads(json.dumps(output)), MessageType.LIST_STEPS))
    assert steps is None or all(isinstance(s, StepInfo) for s in steps)


def test_nul_characters_are_replaced_so_postgresql_can_store_them() -> None:
    item = {"WorkflowUUID": "wf-nul", "Status": "ERROR", "Error": "bad\x00byte", "Input": "a\x00"}
    status = read_workflow(item, APP, T0, has_input=True, has_output=True)
    assert status is not None
    assert status.error == "bad\ufffdbyte"
    assert status.input == "a\ufffd"
