"""``broker.idempotence`` without a broker: the decision from the setting and the probe, and the
bounded wait for acknowledgements (on plain futures, as aiokafka's ``send`` returns)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaTimeoutError, NotLeaderForPartitionError, UnknownError

from broker.idempotence import IdempotenceSetting, Probe, acknowledged, decide
from streams.exceptions import ConfigError

GRANTED = Probe(granted=True, detail="producer id 7")
REFUSED = Probe(granted=False, detail="UnknownError")


@pytest.mark.parametrize(
    ("setting", "probe", "idempotent"),
    [
        (IdempotenceSetting.AUTO, GRANTED, True),
        (IdempotenceSetting.AUTO, REFUSED, False),
        (IdempotenceSetting.ON, GRANTED, True),
        (IdempotenceSetting.OFF, None, False),
        (IdempotenceSetting.OFF, GRANTED, False),
    ],
)
def test_the_decision(setting: IdempotenceSetting, probe: Probe | None, idempotent: bool) -> None:
    assert decide(setting, probe) is idempotent


def test_on_refuses_a_broker_that_grants_nothing() -> None:
    with pytest.raises(ConfigError) as caught:
        decide(IdempotenceSetting.ON, REFUSED)
    assert caught.value.line == (
        "BATON_KAFKA_IDEMPOTENCE=on, but the broker grants no idempotent producer "
        "(InitProducerId: UnknownError); to fix, set BATON_KAFKA_IDEMPOTENCE=auto (or off) "
        "for this broker"
    )


def futures(count: int) -> list[asyncio.Future[object]]:
    loop = asyncio.get_running_loop()
    return [loop.create_future() for _ in range(count)]


async def test_acknowledged_returns_once_all_are() -> None:
    sent = futures(2)
    for future in sent:
        asyncio.get_running_loop().call_later(0.01, future.set_result, "metadata")
    await acknowledged(sent, timeout_s=5)
    await acknowledged([], timeout_s=0.01)


async def test_the_first_failure_is_raised_and_the_others_retrieved() -> None:
    sent = futures(3)
    sent[0].set_result("metadata")
    sent[1].set_exception(NotLeaderForPartitionError())
    sent[2].set_exception(UnknownError())
    with pytest.raises(NotLeaderForPartitionError):
        await acknowledged(sent, timeout_s=5)


async def test_records_unacknowledged_in_time_time_out_without_being_cancelled() -> None:
    sent = futures(2)
    sent[0].set_result("metadata")
    with pytest.raises(KafkaTimeoutError, match=r"1 of 2 records not acknowledged within 0.05 s"):
        await acknowledged(sent, timeout_s=0.05)
    assert not sent[1].cancelled()  # an idempotent producer may still write it
    sent[1].set_exception(UnknownError())  # late: retrieved, so asyncio logs nothing
    await asyncio.sleep(0)
    assert sent[1].done()
