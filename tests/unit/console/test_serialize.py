"""A workflow's JSON is derived from the record: the detail shows every field of
``WorkflowStatus`` (times as ISO 8601 under names without ``_ms``), in its ``TypedDict``'s order."""

from __future__ import annotations

from dataclasses import fields

import orjson

from console.detail import ChildRef, Source, StepsView, WorkflowView
from console.serialize import (
    LIST_ERROR_CHARS,
    StepsJson,
    WorkflowDetailJson,
    WorkflowSummaryJson,
    json_key,
    steps_json,
    workflow_detail_json,
    workflow_summary_json,
)
from store.app_settings import PAYLOADS_HIDDEN
from streams.ids import AppName, WorkflowId
from streams.records import StepInfo, WorkflowStatus

T0 = 1_700_000_000_000
VIEW_KEYS = ["children", "source", "stale_as_of", "payloads_hidden"]
"""Keys of the detail that are the view's, not the record's."""
NOT_SHOWN = {"app", "observed_at_ms"}
"""Record fields the JSON leaves out: the app is in the URL; the observation time is
``stale_as_of`` when it matters."""


def test_json_keys_of_times_drop_their_unit() -> None:
    assert json_key("created_at_ms") == "created_at"
    assert json_key("deadline_epoch_ms") == "deadline"
    assert json_key("delay_until_epoch_ms") == "delay_until"
    assert json_key("timeout_ms") == "timeout_ms"  # a duration, not a time
    assert json_key("queue_name") == "queue_name"


def test_the_detail_shows_every_record_field() -> None:
    shown = [json_key(f.name) for f in fields(WorkflowStatus) if f.name not in NOT_SHOWN]
    assert list(WorkflowDetailJson.__annotations__) == [*shown, *VIEW_KEYS]


def test_the_summary_shows_record_fields_only() -> None:
    keys = {json_key(f.name) for f in fields(WorkflowStatus)}
    assert set(WorkflowSummaryJson.__annotations__) <= keys


def test_a_workflows_json_in_key_order_with_iso_times() -> None:
    status = WorkflowStatus(
        app=AppName("orders"),
        workflow_id=WorkflowId("wf-1"),
        status="ERROR",
        observed_at_ms=T0,
        name="checkout",
        error="e" * (LIST_ERROR_CHARS + 100),
        has_output=True,
        created_at_ms=T0,
        deadline_epoch_ms=T0 + 1,
        timeout_ms=5,
        was_forked_from=True,
    )
    summary = workflow_summary_json(status)
    assert list(summary) == list(WorkflowSummaryJson.__annotations__)
    assert summary["created_at"] == "2023-11-14T22:13:20.000Z"
    assert summary["error"] is not None
    assert len(summary["error"]) <= LIST_ERROR_CHARS
    view = WorkflowView(
        status=status,
        children=(ChildRef(workflow_id="wf-2", status="SUCCESS"),),
        source=Source.STORE,
        stale_as_of_ms=T0,
    )
    detail = workflow_detail_json(view)
    assert list(detail) == list(WorkflowDetailJson.__annotations__)
    assert (detail["deadline"], detail["timeout_ms"]) == ("2023-11-14T22:13:20.001Z", 5)
    assert detail["error"] == status.error  # whole in the detail
    assert (detail["was_forked_from"], detail["updated_at"]) == (True, None)
    assert orjson.loads(orjson.dumps(detail))["children"] == [
        {"workflow_id": "wf-2", "status": "SUCCESS"}
    ]
    assert (detail["source"], detail["stale_as_of"]) == ("store", "2023-11-14T22:13:20.000Z")
    assert detail["payloads_hidden"] is None


def test_a_private_apps_detail_and_steps_say_their_payloads_are_hidden() -> None:
    status = WorkflowStatus(
        app=AppName("orders"), workflow_id=WorkflowId("wf-1"), status="ERROR", observed_at_ms=T0
    )
    view = WorkflowView(
        status=status,
        children=(),
        source=Source.LIVE,
        stale_as_of_ms=None,
        payloads_hidden=PAYLOADS_HIDDEN,
    )
    detail = workflow_detail_json(view)
    assert detail["payloads_hidden"] == "hidden (payload privacy on for this app)"
    assert (detail["input"], detail["output"], detail["error"]) == (None, None, None)
    steps = steps_json(
        StepsView(
            steps=(StepInfo(function_id=0, function_name="charge"),),
            source=Source.STORE,
            stale_as_of_ms=T0,
            payloads_hidden=PAYLOADS_HIDDEN,
        )
    )
    assert steps["payloads_hidden"] == detail["payloads_hidden"]
    assert list(steps) == list(StepsJson.__annotations__)
