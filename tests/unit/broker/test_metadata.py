"""``broker.metadata``: every connection it opens is closed, whatever happens to the request.

The connections are stand-ins: what is tested is this module's handling of them (a caller's
timeout cancelling the request midway), which a real broker cannot be made to hit on cue; the
requests themselves are tested against real brokers through the readiness check and the
rebootstrap (``tests/component/broker``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from broker import metadata
from broker.metadata import ask_bootstrap_servers


class StandInConnection:
    def __init__(self, answer: Any = None) -> None:
        self.answer = answer
        self.closed = False

    async def send(self, request: Any) -> Any:
        if self.answer is None:
            await asyncio.Event().wait()  # never answers
        return self.answer

    def close(self) -> None:
        self.closed = True


class Answer:
    def __init__(self, brokers: list[Any]) -> None:
        self.brokers = brokers


def serving(monkeypatch: pytest.MonkeyPatch, conns: dict[int, StandInConnection]) -> None:
    async def create_conn(host: str, port: int, **options: Any) -> StandInConnection:
        return conns[port]

    monkeypatch.setattr(metadata, "create_conn", create_conn)


async def test_a_request_cancelled_while_it_waits_for_the_answer_closes_its_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    silent = StandInConnection()
    serving(monkeypatch, {1: silent})
    asking = asyncio.create_task(ask_bootstrap_servers([("127.0.0.1", 1)], object(), {}))
    await asyncio.sleep(0.05)
    assert not asking.done()
    assert not silent.closed

    asking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asking
    assert silent.closed


async def test_an_answer_naming_no_broker_is_passed_over_and_every_connection_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    empty, full = StandInConnection(Answer([])), StandInConnection(Answer(["broker 1"]))
    serving(monkeypatch, {1: empty, 2: full})

    answered = await ask_bootstrap_servers([("127.0.0.1", 1), ("127.0.0.1", 2)], object(), {})

    assert answered == ("127.0.0.1:2", full.answer)
    assert empty.closed
    assert full.closed
