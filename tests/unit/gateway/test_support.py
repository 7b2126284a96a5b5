"""Which verbs each DBOS client release supports (``gateway.support``): a known gap is refused
naming the client and version; anything not known to be missing is asked."""

from __future__ import annotations

import pytest

from gateway.protocol import MessageType
from gateway.support import GAPS, missing_verb, unsupported_reply
from streams.ids import ExecutorId
from streams.records import ExecutorInfo


def info(language: str | None, version: str | None) -> ExecutorInfo:
    return ExecutorInfo(
        executor_id=ExecutorId("exec-1"),
        application_version="v1",
        language=language,
        dbos_version=version,
    )


@pytest.mark.parametrize(
    ("language", "version", "client"),
    [
        ("java", "1.1.0-m6", "the Java client 1.1.0-m6 of executor exec-1"),
        ("java", "1.0.0", "the Java client 1.0.0 of executor exec-1"),
        ("python", "2.31.1", "the Python client 2.31.1 of executor exec-1"),
        ("python", "1.14.0", "the Python client 1.14.0 of executor exec-1"),
    ],
)
def test_rewind_on_a_release_known_to_lack_it_is_refused_naming_it(
    language: str, version: str, client: str
) -> None:
    reason = missing_verb(info(language, version), MessageType.REWIND_WORKFLOW)
    assert reason == (
        f"{client} does not support rewind_workflow; fork it from that step instead (a new "
        "workflow id)"
    )


@pytest.mark.parametrize(
    ("language", "version"),
    [
        ("python", "3.2.0"),
        ("python", "2.32.0"),
        ("typescript", "5.2.11"),
        ("go", "v1.6.0"),
        ("java", "1.1.0"),  # the release after the milestone: not known to lack it, so asked
        ("rust", "0.1.0"),
        (None, None),
    ],
)
def test_rewind_elsewhere_is_asked(language: str | None, version: str | None) -> None:
    assert missing_verb(info(language, version), MessageType.REWIND_WORKFLOW) is None


def test_every_other_verb_is_asked_of_every_client() -> None:
    for gap in GAPS:
        for verb in MessageType:
            if verb is not gap.verb:
                assert missing_verb(info(gap.language, gap.through), verb) is None


def test_an_unknown_type_answer_names_the_client() -> None:
    assert unsupported_reply(info("go", "v1.5.0"), MessageType.REWIND_WORKFLOW) == (
        "the Go client v1.5.0 of executor exec-1 does not support rewind_workflow (it answered: "
        "unknown message type)"
    )
