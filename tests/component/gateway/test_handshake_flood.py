"""A flood of wrong keys from one source, over real sockets: refused without store lookups once
the source is blocked, logged once with a count, and never in the way of an honest executor.

On loopback every client is 127.0.0.1, so the gateway is told, as it would be behind a proxy, to
take the client's address from ``X-Forwarded-For``: the flood claims 203.0.113.66, the honest
executor sends no header and is known by its peer address.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from gateway.config import GatewayConfig
from gateway.keys import StoreKeys
from gateway.server import Gateway
from runtime.admission import AdmissionLimits
from store.database import Store
from streams.ids import GatewayId
from streams.topics import Topics
from tests.component.gateway.fakes import FakeExecutor, KeyBook, executor_url
from tests.eventually import eventually

APP = "orders"
FLOOD_SOURCE = "203.0.113.66"
LIMITS = AdmissionLimits()


class CountingKeys(StoreKeys):
    """The store's keys, counting the key checks that reach the store, by key."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.checked: Counter[str] = Counter()

    async def verify(self, app: str, key: str) -> str:
        self.checked[key] += 1
        return await super().verify(app, key)


@pytest.fixture
async def gateway(
    kafka_bootstrap: str, topics: Topics, store: Store
) -> AsyncIterator[tuple[Gateway, CountingKeys]]:
    keys = CountingKeys(store)
    config = GatewayConfig(
        gateway_id=GatewayId(f"gw-{uuid.uuid4().hex[:8]}"),
        kafka_bootstrap=kafka_bootstrap,
        topics=topics,
        port=0,
        admission=LIMITS,
        client_address_header="X-Forwarded-For",
    )
    async with Gateway(config, keys) as gateway:
        yield gateway, keys


def wrong_key() -> str:
    """Well formed, so that checking it is a store lookup; matches no key."""
    return f"bk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


async def flood_attempt(gateway: Gateway) -> int:
    """One handshake with a wrong key from the flood's source: the status it is refused with."""
    url = executor_url(gateway, APP, wrong_key())
    try:
        async with connect(url, additional_headers={"X-Forwarded-For": FLOOD_SOURCE}):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def flood(
    gateway: Gateway, attempts: int, concurrency: int, until: asyncio.Event | None = None
) -> Counter[int]:
    """Waves of ``concurrency`` wrong-key handshakes, at least ``attempts`` in all, and on until
    ``until`` is set if given: statuses counted."""
    statuses: Counter[int] = Counter()
    while sum(statuses.values()) < attempts or (until is not None and not until.is_set()):
        wave = [flood_attempt(gateway) for _ in range(concurrency)]
        statuses.update(await asyncio.gather(*wave))
    return statuses


async def test_a_flood_is_refused_without_store_lookups_and_an_honest_executor_still_connects(
    gateway: tuple[Gateway, CountingKeys], keys: KeyBook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.server")
    pod, counting = gateway
    _, good_key = await keys.create(APP)

    # The flood goes on until the honest executor is through (on a loaded machine its connect
    # may take longer than a fixed number of waves would last).
    honest_through = asyncio.Event()
    flooding = asyncio.create_task(
        flood(pod, attempts=1_000, concurrency=100, until=honest_through)
    )
    await asyncio.sleep(0)  # the first wave is under way
    started = time.monotonic()
    async with FakeExecutor(executor_url(pod, APP, good_key), "exec-honest") as honest:
        await eventually(lambda: honest.handled, "connected, and executor_info answered")
        connect_s = time.monotonic() - started
    honest_through.set()
    statuses = await flooding

    assert set(statuses) <= {403, 429}, statuses
    assert statuses[429] >= 900  # refused before any key check
    wrong_checks = sum(n for key, n in counting.checked.items() if key != good_key)
    # At most a window's failures plus the checks in flight when the block began reached the store.
    assert wrong_checks == statuses[403] <= LIMITS.max_failures + LIMITS.max_pending
    # Not refused, and not queued behind the flood: seconds, not the flood's duration (0.24 s on
    # an idle machine; the bound leaves room for a loaded one).
    assert connect_s < 5.0, f"the honest executor took {connect_s:.2f} s to connect"

    # Blocked now: more of the flood never reaches the store, however many come at once.
    more = await flood(pod, attempts=200, concurrency=100)
    assert more == Counter({429: 200})
    assert sum(n for key, n in counting.checked.items() if key != good_key) == wrong_checks

    refusals = [r for r in caplog.records if getattr(r, "source", None) == FLOOD_SOURCE]
    assert len(refusals) == 1, [r.getMessage() for r in refusals]  # once a minute per address
    assert refusals[0].refused >= 1  # type: ignore[attr-defined]
    honest_refusals = [r for r in caplog.records if getattr(r, "source", None) == "127.0.0.1"]
    assert honest_refusals == []
