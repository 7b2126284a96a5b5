"""The one rule of reading DBOS replies (``gateway.replies``): an error first, then every field
read tolerantly (absent or of the wrong type: ``None``), texts NUL-free and bounded, ids whole or
absent, numbers as integers or DBOS's ``str(int)``."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest
from dbos._conductor import protocol as p
from hypothesis import given
from hypothesis import strategies as st

from gateway import replies
from gateway.protocol import MessageType, Reply
from gateway.queries import DBOS_KEYS, NOT_REPORTED
from streams.bounds import LABEL, MAX_ID_CHARS, MAX_TEXT_CHARS, PAYLOAD, WORKFLOW_REF
from streams.exceptions import DataRefused, ExecutorFailed, VerbUnsupported
from streams.ids import RequestId
from streams.records import WorkflowStatus


def reply(**data: Any) -> Reply:
    return Reply(type=MessageType.LIST_WORKFLOWS, request_id=RequestId("conn-1"), data=data)


def test_an_error_message_fails_the_verb_with_its_text_bounded() -> None:
    with pytest.raises(ExecutorFailed) as failed:
        replies.check(MessageType.GET_WORKFLOW, reply(error_message="boom\n" + "x" * 9_000))
    text = str(failed.value)
    assert text.startswith("get_workflow failed on the executor: boom")
    assert len(text) <= MAX_TEXT_CHARS


def test_an_unknown_type_answer_means_the_verb_is_not_supported() -> None:
    """What dbos 2.31.1 itself sends for a type it does not know (``conductor.py``)."""
    unknown = p.BaseResponse(
        type="rewind_workflow",  # type: ignore[arg-type]  # DBOS echoes the type it got
        request_id="conn-1",
        error_message="Unknown message type",
    )
    answer = Reply(
        type=MessageType.REWIND_WORKFLOW, request_id=RequestId("conn-1"), data=unknown.__dict__
    )
    with pytest.raises(VerbUnsupported, match="does not support rewind_workflow"):
        replies.check(MessageType.REWIND_WORKFLOW, answer)


def test_a_metadata_only_refusal_says_so() -> None:
    """What dbos 3.2.0, TypeScript 5.2 and Go 1.6 answer a data request in metadata-only mode."""
    refusal = "get_workflow_events is not allowed in conductor metadata-only mode"
    answer = Reply(
        type=MessageType.GET_WORKFLOW_EVENTS,
        request_id=RequestId("conn-1"),
        data={"error_message": refusal},
    )
    with pytest.raises(DataRefused, match="metadata-only Conductor mode and refuses get_workflow"):
        replies.check(MessageType.GET_WORKFLOW_EVENTS, answer)


def test_an_error_that_only_mentions_those_words_is_an_ordinary_failure() -> None:
    text = "Unknown message type in my app: boom"
    with pytest.raises(ExecutorFailed) as failed:
        replies.check(MessageType.CANCEL, reply(error_message=text))
    assert type(failed.value) is ExecutorFailed


def test_success_false_fails_the_verb() -> None:
    with pytest.raises(ExecutorFailed, match=r"^cancel failed on the executor \(it answered"):
        replies.check(MessageType.CANCEL, reply(success=False))


@pytest.mark.parametrize(
    "data",
    [{}, {"output": []}, {"success": True}, {"error_message": ""}, {"error_message": None}],
)
def test_a_reply_without_an_error_passes(data: dict[str, Any]) -> None:
    replies.check(MessageType.LIST_WORKFLOWS, reply(**data))


def test_text_is_nul_free_and_bounded() -> None:
    assert replies.text("a\x00b", LABEL) == "a\ufffdb"
    cut = replies.text("x" * 300, LABEL)
    assert cut is not None
    assert len(cut) <= LABEL.max_chars
    assert cut.endswith("more characters cut]")
    assert replies.text("y" * PAYLOAD.max_chars, PAYLOAD) == "y" * PAYLOAD.max_chars


@pytest.mark.parametrize("value", [None, 3, True, ["a"], {"a": 1}, 1.5])
def test_anything_but_a_string_is_no_text_and_no_id(value: object) -> None:
    assert replies.text(value, LABEL) is None
    assert replies.workflow_id(value) is None


def test_ids_are_kept_whole_or_not_at_all() -> None:
    longest = "w" * MAX_ID_CHARS
    assert replies.workflow_id(longest) == longest
    assert replies.workflow_id(longest + "w") is None
    assert replies.workflow_id("") is None
    assert replies.workflow_id("wf\x00-1") is None  # repaired, it would name another workflow
    assert replies.text("wf-1", WORKFLOW_REF) == "wf-1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, 7),
        (-4, -4),
        ("17", 17),
        ("-4", -4),
        ("9" * 18, int("9" * 18)),
        ("9" * 19, None),
        ("²", None),
        ("+7", None),
        ("1.5", None),
        (1.5, None),
        (True, None),
        (None, None),
    ],
)
def test_integers_are_numbers_or_their_dbos_text(value: object, expected: int | None) -> None:
    assert replies.integer(value) == expected


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("true", False)])
def test_a_flag_is_true_only_for_true(value: object, expected: bool) -> None:
    assert replies.flag(value) is expected


@given(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30))
def test_reading_a_field_never_raises(value: object) -> None:
    replies.text(value, LABEL)
    replies.integer(value)
    replies.workflow_id(value)
    replies.flag(value)


def test_every_reported_workflow_field_has_its_dbos_key() -> None:
    reported = {f.name for f in fields(WorkflowStatus)} - NOT_REPORTED
    assert set(DBOS_KEYS) == reported
    assert set(DBOS_KEYS.values()) <= set(p.WorkflowsOutput.__annotations__)
