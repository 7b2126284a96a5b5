"""DBOS management verbs: the requests DBOS's own parsers read, replies built with DBOS's own
dataclasses (``dbos._conductor.protocol``, ``dbos==2.31.1``; ``rewind_workflow``, which 2.31.1
lacks, through 3.2.0's request class copied here) read into the documented results, and what is
refused (bad params, executor errors, results too large for a Kafka record)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypedDict

import pytest
from dbos._conductor import protocol as p
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.management import (
    MANAGEMENT_KINDS,
    MAX_BATCH_IDS,
    MAX_EXPORT_CHARS,
    MAX_RESULT_BYTES,
    MAX_RESULT_ITEMS,
    OBSERVATION_KINDS,
    READ_ONLY_KINDS,
    ManagementCall,
    failure_of,
    management_call,
    read_result,
)
from gateway.protocol import ExecutorSession, MessageType, Reply, decode_reply
from streams.bounds import MAX_PAYLOAD_CHARS, MAX_TEXT_CHARS
from streams.exceptions import (
    DataRefused,
    ExecutorFailed,
    PublishError,
    RecordError,
    RequestTimeout,
    SessionClosed,
    VerbUnsupported,
)
from streams.ids import RequestId
from streams.records import ReplyFailure, RequestKind

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def frame_of(call: ManagementCall) -> str:
    """The text the gateway sends for ``call`` (through the real session)."""
    session = ExecutorSession("conn")
    session.request(call.request)
    (frame,) = session.data_to_send()
    return frame


def dbos_reply(message: Any) -> Reply:
    """A DBOS response dataclass as DBOS sends it (``to_json``), read as the gateway reads it."""
    return decode_reply(message.to_json())


def answer(kind: RequestKind, response: Any, workflow_id: str = "wf-1", **params: Any) -> Any:
    """The result of ``kind`` when the executor answers ``response``."""
    return read_result(management_call(kind, workflow_id, params), dbos_reply(response))


def envelope(type_: p.MessageType) -> dict[str, Any]:
    return {"type": type_, "request_id": "conn-1"}


class RewindWorkflowBody(TypedDict, total=False):
    """``dbos/_conductor/protocol.py`` of dbos 3.2.0, verbatim (2.31.1 has no rewind)."""

    workflow_id: str
    start_step: int | None
    application_version: str | None
    queue_name: str | None
    queue_partition_key: str | None


@dataclass
class RewindWorkflowRequest(p.BaseMessage):
    """dbos 3.2.0's request, parsed by DBOS's own ``BaseMessage.from_json``."""

    body: RewindWorkflowBody


# -- which kinds -----------------------------------------------------------------------------------


def test_every_request_kind_is_either_an_observation_or_a_management_kind() -> None:
    assert set(RequestKind) == MANAGEMENT_KINDS | OBSERVATION_KINDS
    assert not MANAGEMENT_KINDS & OBSERVATION_KINDS
    assert READ_ONLY_KINDS < MANAGEMENT_KINDS


@pytest.mark.parametrize("kind", sorted(OBSERVATION_KINDS))
def test_observation_kinds_are_not_built_here(kind: RequestKind) -> None:
    with pytest.raises(RecordError, match="is not a management request"):
        management_call(kind, "wf-1", {})


# -- requests --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One management request and what DBOS must read from its frame."""

    kind: RequestKind
    workflow_id: str
    params: dict[str, Any]
    dbos: type[Any]
    expect: dict[str, Any]
    """Attributes (or, for a ``body``, keys) of the parsed DBOS request."""


CASES = [
    Case(
        RequestKind.CANCEL,
        "wf-1",
        {},
        p.CancelRequest,
        {"workflow_id": "wf-1", "workflow_ids": None, "cancel_children": False},
    ),
    Case(
        RequestKind.CANCEL,
        "",
        {"workflow_ids": ["wf-1", "wf-2"], "cancel_children": True},
        p.CancelRequest,
        {"workflow_id": "wf-1", "workflow_ids": ["wf-1", "wf-2"], "cancel_children": True},
    ),
    Case(
        RequestKind.RESUME,
        "wf-1",
        {"queue_name": "slow-q"},
        p.ResumeRequest,
        {"workflow_id": "wf-1", "workflow_ids": None, "queue_name": "slow-q"},
    ),
    Case(
        RequestKind.RESUME,
        "wf-1",
        {"workflow_ids": ["wf-3", "wf-4"]},
        p.ResumeRequest,
        {"workflow_id": "wf-3", "workflow_ids": ["wf-3", "wf-4"], "queue_name": None},
    ),
    Case(
        RequestKind.DELETE,
        "wf-1",
        {},
        p.DeleteRequest,
        {"workflow_id": "wf-1", "workflow_ids": None, "delete_children": False},
    ),
    Case(
        RequestKind.DELETE,
        "",
        {"workflow_ids": ["wf-1", "wf-2"], "delete_children": True},
        p.DeleteRequest,
        {"workflow_id": "wf-1", "workflow_ids": ["wf-1", "wf-2"], "delete_children": True},
    ),
    Case(
        RequestKind.FORK,
        "wf-1",
        {"start_step": 3, "new_workflow_id": "wf-1-fork", "application_version": "v2"},
        p.ForkWorkflowRequest,
        {
            "body": {
                "workflow_id": "wf-1",
                "start_step": 3,
                "application_version": "v2",
                "new_workflow_id": "wf-1-fork",
                "queue_name": None,
                "queue_partition_key": None,
            }
        },
    ),
    Case(
        RequestKind.FORK_FROM_FAILURE,
        "",
        {"workflow_ids": ["wf-1", "wf-2"], "queue_name": "retry-q"},
        p.ForkFromFailureRequest,
        {
            "body": {
                "workflow_ids": ["wf-1", "wf-2"],
                "application_version": None,
                "queue_name": "retry-q",
                "from_last_failure": True,
            }
        },
    ),
    Case(
        RequestKind.LIST_SCHEDULES,
        "",
        {},
        p.ListSchedulesRequest,
        {"body": {"load_context": False}},
    ),
    Case(
        RequestKind.PAUSE_SCHEDULE,
        "",
        {"schedule_name": "nightly"},
        p.PauseScheduleRequest,
        {"schedule_name": "nightly"},
    ),
    Case(
        RequestKind.RESUME_SCHEDULE,
        "",
        {"schedule_name": "nightly"},
        p.ResumeScheduleRequest,
        {"schedule_name": "nightly"},
    ),
    Case(
        RequestKind.TRIGGER_SCHEDULE,
        "",
        {"schedule_name": "nightly"},
        p.TriggerScheduleRequest,
        {"schedule_name": "nightly"},
    ),
    Case(
        RequestKind.BACKFILL_SCHEDULE,
        "",
        {
            "schedule_name": "nightly",
            "start": "2024-05-01T00:00:00+00:00",
            "end": "2024-05-02T00:00:00+00:00",
        },
        p.BackfillScheduleRequest,
        {
            "schedule_name": "nightly",
            "start": "2024-05-01T00:00:00+00:00",
            "end": "2024-05-02T00:00:00+00:00",
        },
    ),
    Case(RequestKind.LIST_VERSIONS, "", {}, p.ListApplicationVersionsRequest, {}),
    Case(
        RequestKind.SET_LATEST_VERSION,
        "",
        {"version_name": "v2"},
        p.SetLatestApplicationVersionRequest,
        {"version_name": "v2"},
    ),
    Case(
        RequestKind.EXPORT_WORKFLOW,
        "wf-1",
        {"export_children": True},
        p.ExportWorkflowRequest,
        {"workflow_id": "wf-1", "export_children": True},
    ),
    Case(
        RequestKind.EXPORT_WORKFLOW,
        "wf-1",
        {},
        p.ExportWorkflowRequest,
        {"workflow_id": "wf-1", "export_children": False},
    ),
    Case(
        RequestKind.IMPORT_WORKFLOW,
        "",
        {"serialized_workflow": "H4sIAAAA"},
        p.ImportWorkflowRequest,
        {"serialized_workflow": "H4sIAAAA"},
    ),
    Case(RequestKind.GET_EVENTS, "wf-1", {}, p.GetWorkflowEventsRequest, {"workflow_id": "wf-1"}),
    Case(
        RequestKind.GET_NOTIFICATIONS,
        "wf-1",
        {},
        p.GetWorkflowNotificationsRequest,
        {"workflow_id": "wf-1"},
    ),
    Case(RequestKind.GET_STREAMS, "wf-1", {}, p.GetWorkflowStreamsRequest, {"workflow_id": "wf-1"}),
    Case(
        RequestKind.REWIND,
        "wf-1",
        {"start_step": 2, "queue_name": "q"},
        RewindWorkflowRequest,
        {
            "body": {
                "workflow_id": "wf-1",
                "start_step": 2,
                "application_version": None,
                "queue_name": "q",
                "queue_partition_key": None,
            }
        },
    ),
    Case(
        RequestKind.REWIND,
        "wf-1",
        {},
        RewindWorkflowRequest,
        {
            "body": {
                "workflow_id": "wf-1",
                "start_step": None,
                "application_version": None,
                "queue_name": None,
                "queue_partition_key": None,
            }
        },
    ),
]


def test_every_management_kind_has_a_request_case() -> None:
    assert {case.kind for case in CASES} == MANAGEMENT_KINDS


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.kind.value}-{sorted(c.params)}")
def test_each_request_parses_as_dbos_reads_it_and_carries_its_params(case: Case) -> None:
    call = management_call(case.kind, case.workflow_id, case.params)
    assert call.kind is case.kind
    parsed = case.dbos.from_json(frame_of(call))  # DBOS's own parser: every required field
    assert parsed.type == call.request.type.value
    assert parsed.request_id == "conn-1"
    for name, value in case.expect.items():
        assert getattr(parsed, name) == value, name


def test_a_fork_body_holds_every_key_dbos_reads() -> None:
    call = management_call(RequestKind.FORK, "wf-1", {"start_step": 1, "new_workflow_id": "n"})
    body = p.ForkWorkflowRequest.from_json(frame_of(call)).body
    assert set(body) == set(p.ForkWorkflowBody.__annotations__)  # DBOS reads body["..."]


def test_a_fork_from_failure_body_names_exactly_one_mode() -> None:
    """DBOS ``fork_from_failure`` refuses anything but exactly one ``from_*`` mode."""
    call = management_call(RequestKind.FORK_FROM_FAILURE, "", {"workflow_ids": ["wf-1"]})
    body = p.ForkFromFailureRequest.from_json(frame_of(call)).body
    assert set(body) <= set(p.ForkFromFailureBody.__annotations__)
    modes = ("from_last_failure", "from_last_step", "from_step", "from_step_name")
    assert [k for k in modes if body.get(k) not in (None, False)] == ["from_last_failure"]


def test_a_single_workflow_is_sent_without_workflow_ids() -> None:
    """Any DBOS version reads ``workflow_id``; ``workflow_ids`` only when there are several."""
    one = management_call(RequestKind.CANCEL, "", {"workflow_ids": ["wf-7"]})
    assert "workflow_ids" not in json.loads(frame_of(one))
    assert one.workflow_ids == ("wf-7",)


# -- bad params ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "workflow_id", "params", "message"),
    [
        (RequestKind.CANCEL, "", {}, "cancel: workflow_ids is required when the request names"),
        (RequestKind.CANCEL, "wf-1", {"workflow_ids": "wf-2"}, "workflow_ids must be a list"),
        (RequestKind.CANCEL, "wf-1", {"workflow_ids": []}, "workflow_ids must name at least one"),
        (RequestKind.CANCEL, "wf-1", {"workflow_ids": ["a", ""]}, "with no empty id"),
        (RequestKind.CANCEL, "wf-1", {"cancel_children": "yes"}, "cancel_children must be a bool"),
        (RequestKind.RESUME, "wf-1", {"queue_name": 3}, "queue_name must be a string"),
        (RequestKind.DELETE, "wf-1", {"delete_children": 1}, "delete_children must be a boolean"),
        (RequestKind.FORK, "wf-1", {"new_workflow_id": "n"}, "fork: start_step is required"),
        (RequestKind.FORK, "wf-1", {"start_step": 2}, "fork: new_workflow_id is required"),
        (RequestKind.FORK, "wf-1", {"start_step": "2", "new_workflow_id": "n"}, "an integer"),
        (RequestKind.FORK, "wf-1", {"start_step": True, "new_workflow_id": "n"}, "an integer"),
        (RequestKind.FORK, "wf-1", {"start_step": -1, "new_workflow_id": "n"}, "at least 0"),
        (RequestKind.FORK, "wf-1", {"start_step": 1, "new_workflow_id": ""}, "must not be empty"),
        (RequestKind.FORK, "", {"start_step": 1, "new_workflow_id": "n"}, "names no workflow"),
        (RequestKind.FORK_FROM_FAILURE, "wf-1", {}, "workflow_ids is required"),
        (RequestKind.PAUSE_SCHEDULE, "", {}, "pause_schedule: schedule_name is required"),
        (RequestKind.TRIGGER_SCHEDULE, "", {"schedule_name": ""}, "schedule_name must not be"),
        (
            RequestKind.BACKFILL_SCHEDULE,
            "",
            {"schedule_name": "s", "start": "yesterday", "end": "2024-05-02T00:00:00"},
            "start must be an ISO 8601 date and time",
        ),
        (
            RequestKind.BACKFILL_SCHEDULE,
            "",
            {"schedule_name": "s", "start": "2024-05-01T00:00:00"},
            "end is required",
        ),
        (
            RequestKind.SET_LATEST_VERSION,
            "",
            {"version_name": None},
            "version_name must be a string",
        ),
        (RequestKind.EXPORT_WORKFLOW, "", {}, "names no workflow"),
        (RequestKind.IMPORT_WORKFLOW, "", {"serialized_workflow": 5}, "must be a string"),
        (RequestKind.GET_EVENTS, "", {}, "get_workflow_events: the request names no workflow"),
        (RequestKind.REWIND, "", {}, "rewind_workflow: the request names no workflow"),
        (RequestKind.REWIND, "wf-1", {"start_step": -1}, "start_step must be at least 0"),
        (RequestKind.REWIND, "wf-1", {"start_step": "1"}, "an integer"),
    ],
)
def test_bad_params_are_refused_naming_the_param(
    kind: RequestKind, workflow_id: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(RecordError, match="invalid params for") as refused:
        management_call(kind, workflow_id, params)
    assert message in str(refused.value)


def test_a_bulk_request_names_at_most_the_batch_limit() -> None:
    ids = [f"wf-{i}" for i in range(MAX_BATCH_IDS + 1)]
    with pytest.raises(RecordError, match=f"over the limit of {MAX_BATCH_IDS}"):
        management_call(RequestKind.DELETE, "", {"workflow_ids": ids})
    assert len(management_call(RequestKind.DELETE, "", {"workflow_ids": ids[:-1]}).workflow_ids)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
param_names = st.sampled_from(
    [
        "workflow_ids",
        "cancel_children",
        "delete_children",
        "queue_name",
        "start_step",
        "new_workflow_id",
        "application_version",
        "schedule_name",
        "start",
        "end",
        "version_name",
        "export_children",
        "serialized_workflow",
    ]
)


@FAST
@given(
    st.sampled_from(sorted(MANAGEMENT_KINDS)),
    st.text(max_size=5),
    st.dictionaries(param_names, json_values, max_size=6),
)
def test_any_params_build_a_request_or_raise_record_error(
    kind: RequestKind, workflow_id: str, params: dict[str, Any]
) -> None:
    try:
        call = management_call(kind, workflow_id, params)
    except RecordError:
        return
    assert json.loads(frame_of(call))["type"] == call.request.type.value


# -- replies ---------------------------------------------------------------------------------------


def test_cancel_resume_delete_results_name_the_workflows_acted_on() -> None:
    for kind, response in [
        (RequestKind.CANCEL, p.CancelResponse),
        (RequestKind.RESUME, p.ResumeResponse),
        (RequestKind.DELETE, p.DeleteResponse),
    ]:
        reply = response(**envelope(p.MessageType(kind.value)), success=True)
        assert answer(kind, reply) == {"workflow_ids": ["wf-1"]}
        assert answer(kind, reply, "", workflow_ids=["a", "b"]) == {"workflow_ids": ["a", "b"]}


def test_a_fork_result_is_the_new_workflow_id() -> None:
    reply = p.ForkWorkflowResponse(**envelope(p.MessageType.FORK_WORKFLOW), new_workflow_id="n-1")
    result = answer(RequestKind.FORK, reply, start_step=1, new_workflow_id="n-1")
    assert result == {"new_workflow_id": "n-1"}


def test_a_fork_without_a_new_workflow_id_failed() -> None:
    reply = p.ForkWorkflowResponse(**envelope(p.MessageType.FORK_WORKFLOW), new_workflow_id=None)
    with pytest.raises(ExecutorFailed, match="without a new_workflow_id"):
        answer(RequestKind.FORK, reply, start_step=1, new_workflow_id="n-1")


def test_fork_from_failure_result() -> None:
    reply = p.ForkFromFailureResponse(
        **envelope(p.MessageType.FORK_FROM_FAILURE), forked_workflow_ids=["f-1", "f-2"]
    )
    result = answer(RequestKind.FORK_FROM_FAILURE, reply, "", workflow_ids=["wf-1", "wf-2"])
    assert result == {"forked_workflow_ids": ["f-1", "f-2"]}


def schedule(name: str, **overrides: Any) -> p.ScheduleOutput:
    values: dict[str, Any] = {
        "schedule_id": f"id-{name}",
        "schedule_name": name,
        "workflow_name": "report",
        "workflow_class_name": None,
        "schedule": "0 * * * *",
        "status": "ACTIVE",
        "context": "secret context",
        "last_fired_at": "2024-05-01T10:00:00+00:00",
        "automatic_backfill": True,
        "cron_timezone": "Europe/Paris",
        "queue_name": "reports-q",
        "application_name": "orders",
    }
    values.update(overrides)
    return p.ScheduleOutput(**values)


def test_list_schedules_result() -> None:
    reply = p.ListSchedulesResponse(
        **envelope(p.MessageType.LIST_SCHEDULES),
        output=[schedule("hourly"), schedule("daily", automatic_backfill=False, status="PAUSED")],
    )
    (hourly, daily) = answer(RequestKind.LIST_SCHEDULES, reply, "")["schedules"]
    assert hourly == {
        "schedule_id": "id-hourly",
        "schedule_name": "hourly",
        "workflow_name": "report",
        "workflow_class_name": None,
        "schedule": "0 * * * *",
        "status": "ACTIVE",
        "last_fired_at": "2024-05-01T10:00:00+00:00",
        "automatic_backfill": True,
        "cron_timezone": "Europe/Paris",
        "queue_name": "reports-q",
    }
    assert (daily["status"], daily["automatic_backfill"]) == ("PAUSED", False)


@pytest.mark.parametrize(
    ("kind", "response", "params"),
    [
        (RequestKind.PAUSE_SCHEDULE, p.PauseScheduleResponse, {"schedule_name": "s"}),
        (RequestKind.RESUME_SCHEDULE, p.ResumeScheduleResponse, {"schedule_name": "s"}),
        (
            RequestKind.SET_LATEST_VERSION,
            p.SetLatestApplicationVersionResponse,
            {"version_name": "v"},
        ),
        (RequestKind.IMPORT_WORKFLOW, p.ImportWorkflowResponse, {"serialized_workflow": "x"}),
    ],
)
def test_acknowledged_kinds_answer_an_empty_result(
    kind: RequestKind, response: type[Any], params: dict[str, Any]
) -> None:
    type_ = management_call(kind, "", params).request.type.value
    reply = response(type=p.MessageType(type_), request_id="conn-1", success=True)
    assert answer(kind, reply, "", **params) == {}


def test_a_rewind_answers_an_empty_result_and_its_failure_the_executors_text() -> None:
    call = management_call(RequestKind.REWIND, "wf-1", {"start_step": 1})
    done = {"type": "rewind_workflow", "request_id": "conn-1", "success": True}
    assert read_result(call, decode_reply(json.dumps(done))) == {}
    refused = {**done, "success": False, "error_message": "not in a terminal state"}
    with pytest.raises(ExecutorFailed, match="rewind_workflow failed on the executor: not in"):
        read_result(call, decode_reply(json.dumps(refused)))


def test_trigger_schedule_result() -> None:
    reply = p.TriggerScheduleResponse(**envelope(p.MessageType.TRIGGER_SCHEDULE), workflow_id="t")
    assert answer(RequestKind.TRIGGER_SCHEDULE, reply, "", schedule_name="s") == {
        "workflow_id": "t"
    }
    none = p.TriggerScheduleResponse(**envelope(p.MessageType.TRIGGER_SCHEDULE), workflow_id=None)
    assert answer(RequestKind.TRIGGER_SCHEDULE, none, "", schedule_name="s") == {
        "workflow_id": None
    }


BACKFILL = {"schedule_name": "s", "start": "2024-05-01T00:00:00", "end": "2024-05-02T00:00:00"}


def test_backfill_result_holds_at_most_the_item_limit() -> None:
    ids = [f"b-{i}" for i in range(MAX_RESULT_ITEMS + 500)]
    reply = p.BackfillScheduleResponse(
        **envelope(p.MessageType.BACKFILL_SCHEDULE), workflow_ids=ids
    )
    result = answer(RequestKind.BACKFILL_SCHEDULE, reply, "", **BACKFILL)
    assert result == {"workflow_ids": ids[:MAX_RESULT_ITEMS]}


def test_list_application_versions_result() -> None:
    reply = p.ListApplicationVersionsResponse(
        **envelope(p.MessageType.LIST_APPLICATION_VERSIONS),
        output=[
            p.ApplicationVersionOutput.from_version_info(
                {
                    "version_id": "vid-1",
                    "version_name": "v1",
                    "version_timestamp": 1_700_000_000_000,
                    "created_at": 1_699_000_000_000,
                    "application_name": "orders",
                }
            )
        ],
    )
    assert answer(RequestKind.LIST_VERSIONS, reply, "") == {
        "versions": [
            {
                "version_id": "vid-1",
                "version_name": "v1",
                "version_timestamp": 1_700_000_000_000,
                "created_at": 1_699_000_000_000,
            }
        ]
    }


def test_export_result_and_the_export_size_limit() -> None:
    fits = "A" * MAX_EXPORT_CHARS
    reply = p.ExportWorkflowResponse(
        **envelope(p.MessageType.EXPORT_WORKFLOW), serialized_workflow=fits
    )
    assert answer(RequestKind.EXPORT_WORKFLOW, reply) == {"serialized_workflow": fits}

    too_big = p.ExportWorkflowResponse(
        **envelope(p.MessageType.EXPORT_WORKFLOW), serialized_workflow=fits + "A"
    )
    with pytest.raises(ExecutorFailed) as refused:
        answer(RequestKind.EXPORT_WORKFLOW, too_big, export_children=True)
    assert str(refused.value).startswith(
        f"the exported workflow is {MAX_EXPORT_CHARS + 1} characters, over the"
        f" {MAX_EXPORT_CHARS} limit of a Kafka record; export it without children"
    )


def test_get_workflow_events_result() -> None:
    reply = p.GetWorkflowEventsResponse(
        **envelope(p.MessageType.GET_WORKFLOW_EVENTS),
        events=[
            p.EventOutput.from_event_data("progress", 0.5),
            p.EventOutput.from_event_data("big", "x" * (MAX_PAYLOAD_CHARS + 10)),
        ],
    )
    progress, big = answer(RequestKind.GET_EVENTS, reply)["events"]
    assert progress == {"key": "progress", "value": "0.5"}
    assert big["key"] == "big"
    assert MAX_PAYLOAD_CHARS - 10 <= len(big["value"]) <= MAX_PAYLOAD_CHARS
    assert big["value"].endswith("more characters cut]")


def test_get_workflow_notifications_result() -> None:
    reply = p.GetWorkflowNotificationsResponse(
        **envelope(p.MessageType.GET_WORKFLOW_NOTIFICATIONS),
        notifications=[
            p.NotificationOutput.from_notification_info(
                {
                    "topic": "payments",
                    "message": {"paid": True},
                    "created_at_epoch_ms": 1_700_000_000_123,
                    "consumed": True,
                }
            ),
            p.NotificationOutput(
                topic=None, message="nul\x00here", created_at_epoch_ms=5, consumed=False
            ),
        ],
    )
    assert answer(RequestKind.GET_NOTIFICATIONS, reply) == {
        "notifications": [
            {
                "topic": "payments",
                "message": "{'paid': True}",
                "created_at_ms": 1_700_000_000_123,
                "consumed": True,
            },
            # PostgreSQL cannot store NUL: it is replaced before the result reaches the audit.
            {"topic": None, "message": "nul\ufffdhere", "created_at_ms": 5, "consumed": False},
        ]
    }


def test_get_workflow_streams_result_bounds_each_stream() -> None:
    many = list(range(MAX_RESULT_ITEMS + 3))
    reply = p.GetWorkflowStreamsResponse(
        **envelope(p.MessageType.GET_WORKFLOW_STREAMS),
        streams=[
            p.StreamEntryOutput.from_stream_data("tokens", ["a", "b"]),
            p.StreamEntryOutput.from_stream_data("counts", many),  # type: ignore[arg-type]
        ],
    )
    tokens, counts = answer(RequestKind.GET_STREAMS, reply)["streams"]
    assert tokens == {"key": "tokens", "values": ["a", "b"]}
    assert counts["key"] == "counts"
    assert counts["values"] == [str(i) for i in range(MAX_RESULT_ITEMS)]


def test_a_result_too_large_for_a_kafka_record_fails_clearly() -> None:
    value = "v" * MAX_PAYLOAD_CHARS
    reply = p.GetWorkflowEventsResponse(
        **envelope(p.MessageType.GET_WORKFLOW_EVENTS),
        events=[p.EventOutput(key=f"k{i}", value=value) for i in range(20)],
    )
    with pytest.raises(ExecutorFailed, match=f"over the {MAX_RESULT_BYTES} limit of a Kafka"):
        answer(RequestKind.GET_EVENTS, reply)


# -- executor errors -------------------------------------------------------------------------------

TRACEBACK = "Exception encountered when cancelling workflow(s) ['wf-1']: Traceback\n" + (
    "  File x.py\n" * MAX_TEXT_CHARS
)


@pytest.mark.parametrize(
    ("kind", "response", "params"),
    [
        (RequestKind.CANCEL, p.CancelResponse(**envelope(p.MessageType.CANCEL), success=False), {}),
        (
            RequestKind.FORK,
            p.ForkWorkflowResponse(**envelope(p.MessageType.FORK_WORKFLOW), new_workflow_id=None),
            {"start_step": 1, "new_workflow_id": "n"},
        ),
        (
            RequestKind.LIST_SCHEDULES,
            p.ListSchedulesResponse(**envelope(p.MessageType.LIST_SCHEDULES), output=[]),
            {},
        ),
        (
            RequestKind.GET_EVENTS,
            p.GetWorkflowEventsResponse(**envelope(p.MessageType.GET_WORKFLOW_EVENTS), events=None),
            {},
        ),
    ],
)
def test_an_executor_error_raises_executor_failed_bounded(
    kind: RequestKind, response: Any, params: dict[str, Any]
) -> None:
    response.error_message = TRACEBACK
    with pytest.raises(ExecutorFailed) as failed:
        answer(kind, response, **params)
    text = str(failed.value)
    verb = management_call(kind, "wf-1", params).request.type.value
    assert text.startswith(f"{verb} failed on the executor: Exception encountered")
    assert len(text) <= MAX_TEXT_CHARS


def test_success_false_without_a_message_is_a_failure_too() -> None:
    reply = p.PauseScheduleResponse(**envelope(p.MessageType.PAUSE_SCHEDULE), success=False)
    with pytest.raises(ExecutorFailed, match="answered success=false"):
        answer(RequestKind.PAUSE_SCHEDULE, reply, "", schedule_name="s")


def test_a_reply_without_its_result_is_a_failure() -> None:
    bare = Reply(type=MessageType.CANCEL, request_id=RequestId("conn-1"), data={})
    with pytest.raises(ExecutorFailed, match="without success=true"):
        read_result(management_call(RequestKind.CANCEL, "wf-1", {}), bare)
    events = Reply(type=MessageType.GET_WORKFLOW_EVENTS, request_id=RequestId("c"), data={})
    with pytest.raises(ExecutorFailed, match="answered without events"):
        read_result(management_call(RequestKind.GET_EVENTS, "wf-1", {}), events)


@FAST
@given(st.sampled_from(CASES), st.dictionaries(st.text(max_size=25), json_values, max_size=6))
def test_any_reply_is_read_or_raises_executor_failed(case: Case, data: dict[str, Any]) -> None:
    """The fuzz contract of a reader: a JSON result, or ``ExecutorFailed``."""
    call = management_call(case.kind, case.workflow_id, case.params)
    reply = Reply(type=call.request.type, request_id=RequestId("conn-1"), data=data)
    try:
        result = read_result(call, reply)
    except ExecutorFailed:
        return
    assert json.loads(json.dumps(result)) == result


# -- failures --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (SessionClosed("gone"), ReplyFailure.DISCONNECTED),
        (RequestTimeout("late"), ReplyFailure.TIMEOUT),
        (ExecutorFailed("boom"), ReplyFailure.EXECUTOR_ERROR),
        (VerbUnsupported("no rewind"), ReplyFailure.UNSUPPORTED),
        (DataRefused("metadata-only"), ReplyFailure.METADATA_ONLY),
        (PublishError("kafka"), ReplyFailure.GATEWAY_ERROR),
        (RecordError("bad params"), ReplyFailure.GATEWAY_ERROR),
    ],
)
def test_failure_of(exc: Any, failure: ReplyFailure) -> None:
    assert failure_of(exc) is failure
