"""Whether Baton's Kafka producers are idempotent: the one probe of the broker's InitProducerId.

An idempotent producer gets an id from the broker (InitProducerId) and numbers its batches, so
that a batch retried after a lost acknowledgement is written once, in order (aiokafka
``enable_idempotence``; it requires ``acks=all``, which Baton's producers use anyway). Apache
Kafka grants it. Tansu 0.6, the embedded broker, advertises InitProducerId in ApiVersions but
answers it with UnknownError, and an aiokafka producer built idempotent against it fails to start:
so a role asks once, at start, with a short bound (:func:`producer_idempotence`), and builds its
producers from the answer. Granted: idempotent. Refused, not advertised, or no answer in time: a
plain ``acks=all`` producer. Either way Baton is at-least-once end to end (its consumers fold
idempotently): idempotence only spares the log the duplicates of the producers' own retries.

aiokafka never expires an idempotent producer's batches: it retries them until the broker takes
them, where a plain producer's fail after its request timeout. :func:`acknowledged` gives the
callers of either the same bound. And an idempotent producer can be lost for good: once the
broker refuses its sequence numbers (a broker that came back empty, whose new producer ids then
collide with the old ones still in use), each of its later writes is refused the same way
(:func:`producer_lost`); its :class:`ProducerSlot` replaces it with a new producer, which gets a
new id.

The setting ``BATON_KAFKA_IDEMPOTENCE`` (:class:`IdempotenceSetting`) turns the probe off
(``off``: never idempotent) or makes idempotence required (``on``: a role whose broker does not
grant it fails to start).

Must not import ``gateway``, ``recovery`` or ``console``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import (
    IncompatibleBrokerVersion,
    InvalidProducerEpoch,
    KafkaError,
    KafkaTimeoutError,
    NoError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
    for_code,
)
from aiokafka.protocol.transaction import InitProducerIdRequest

from streams.exceptions import ConfigError

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 5.0
"""How long the probe may take, connection included: a broker that does not answer in time is
taken not to grant idempotence (the role has just created its topics there: it does answer)."""
_RETRY_BACKOFF_S = 0.1
_NO_TRANSACTION_MS = 2**31 - 1
"""The transaction timeout an idempotent, non-transactional producer sends (as aiokafka does)."""
_SETTING_VARIABLE = "BATON_KAFKA_IDEMPOTENCE"


class IdempotenceSetting(StrEnum):
    """``BATON_KAFKA_IDEMPOTENCE``: whether the roles' producers are idempotent."""

    AUTO = "auto"
    """Probe the broker at role start; idempotent where it grants a producer id."""
    ON = "on"
    """Required: a role whose broker does not grant a producer id fails to start."""
    OFF = "off"
    """Never: plain ``acks=all`` producers, and no probe."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe:
    """What the broker answered to InitProducerId."""

    granted: bool
    """It gave a producer id: idempotent producers work there."""
    detail: str
    """The id it gave, or why not (the error's name, "not advertised", "no answer in ...")."""


def decide(setting: IdempotenceSetting, probe: Probe | None) -> bool:
    """Whether the producers are idempotent, given the setting and (unless ``off``) the probe.

    Raises:
        ConfigError: the setting is ``on`` and the broker did not grant a producer id.
    """
    if setting is IdempotenceSetting.OFF or probe is None:
        return False
    if setting is IdempotenceSetting.ON and not probe.granted:
        raise ConfigError(
            f"{_SETTING_VARIABLE}=on, but the broker grants no idempotent producer "
            f"(InitProducerId: {probe.detail})",
            fix=f"set {_SETTING_VARIABLE}=auto (or off) for this broker",
        )
    return probe.granted


async def probe(bootstrap: str, *, timeout_s: float = PROBE_TIMEOUT_S) -> Probe:
    """Ask one broker of ``bootstrap`` for a producer id, as an idempotent producer's start does.

    Retriable answers are asked again until ``timeout_s``: a fresh Apache Kafka cluster answers
    its first InitProducerId with COORDINATOR_LOAD_IN_PROGRESS (``GroupLoadInProgressError``)
    while it sets up its producer-id blocks. Never raises for the broker's sake: a refusal, an
    unknown API, a failed connection or silence until ``timeout_s`` is a :class:`Probe` that is
    not granted.

    Args:
        bootstrap: ``host:port`` of a broker (or a comma-separated list of them).
        timeout_s: Bound on the whole probe, connection and retries included.
    """
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap,
        client_id="baton-idempotence-probe",
        request_timeout_ms=int(timeout_s * 1000),
    )
    last = "no answer"
    try:
        async with asyncio.timeout(timeout_s):
            await client.bootstrap()
            while True:
                outcome = await _ask_producer_id(client)
                if isinstance(outcome, Probe):
                    return outcome
                last = outcome.__name__
                await asyncio.sleep(_RETRY_BACKOFF_S)
    except TimeoutError:
        return Probe(granted=False, detail=f"{last} within {timeout_s:g} s")
    except IncompatibleBrokerVersion:
        return Probe(granted=False, detail="not advertised in ApiVersions")
    except (KafkaError, OSError) as exc:
        return Probe(granted=False, detail=type(exc).__name__)
    finally:
        await client.close()


async def _ask_producer_id(client: AIOKafkaClient) -> Probe | type[KafkaError]:
    """One InitProducerId to a random node: the answer, or the retriable error to retry on."""
    node_id = client.get_random_node()
    if node_id is None:
        return Probe(granted=False, detail="the broker lists no node")
    try:
        response = await client.send(
            node_id,
            InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=_NO_TRANSACTION_MS),
        )
    except KafkaError as exc:
        if exc.retriable:
            return type(exc)
        raise
    error: type[KafkaError] = for_code(response.error_code)
    if error is NoError:
        return Probe(granted=True, detail=f"producer id {response.producer_id}")
    if error.retriable:
        return error
    return Probe(granted=False, detail=error.__name__)


async def producer_idempotence(
    bootstrap: str,
    setting: IdempotenceSetting,
    *,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> bool:
    """Whether the role's producers are to be idempotent; logs the answer once (each role's log
    lines carry its name: ``baton.logs``).

    Call it once per role, at start, after its topics exist (``broker.admin.ensure_topics``).

    Args:
        bootstrap: ``host:port`` of a broker (or a comma-separated list of them).
        setting: ``BATON_KAFKA_IDEMPOTENCE``.
        timeout_s: Bound on the probe.

    Raises:
        ConfigError: the setting is ``on`` and the broker did not grant a producer id.
    """
    found = (
        None if setting is IdempotenceSetting.OFF else await probe(bootstrap, timeout_s=timeout_s)
    )
    idempotent = decide(setting, found)
    detail = f"{_SETTING_VARIABLE}=off" if found is None else f"InitProducerId: {found.detail}"
    logger.info(
        "Kafka producers: %s (%s)",
        "idempotent, acks=all" if idempotent else "acks=all, not idempotent",
        detail,
        extra={
            "kafka_idempotent": idempotent,
            "kafka_idempotence": str(setting),
            "idempotence_probe": detail,
        },
    )
    return idempotent


LOST_PRODUCER_ERRORS: tuple[type[KafkaError], ...] = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    ProducerFenced,
    InvalidProducerEpoch,
)
"""Errors after which an idempotent aiokafka producer writes nothing more: its sequence numbers
(or its id and epoch) are no longer the broker's, and aiokafka neither resets them nor bumps the
epoch (Kafka's KIP-360 client side)."""


def producer_lost(exc: BaseException) -> bool:
    """Whether the producer that failed with ``exc`` must be replaced to write again."""
    return isinstance(exc, LOST_PRODUCER_ERRORS)


class ProducerSlot:
    """A role's current aiokafka producer: one lost for good (:func:`producer_lost`) is replaced
    by a new one from ``make``. ``stop()`` flushes and is idempotent."""

    def __init__(self, make: Callable[[], AIOKafkaProducer]) -> None:
        self._make = make
        self.current = make()
        """The producer to send with (read it again after each failure)."""
        self._started = False
        self._renewing = asyncio.Lock()

    async def start(self) -> None:
        await self.current.start()
        self._started = True

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self.current.stop()  # flushes what is buffered first

    async def failed(self, producer: AIOKafkaProducer, exc: KafkaError) -> None:
        """``producer`` (``current`` when the send began) failed with ``exc``: if it is lost,
        start a new one in its place; once, however many sends saw it fail. Raises nothing: a
        new producer that does not start is tried again at the next failure."""
        if not producer_lost(exc):
            return
        async with self._renewing:
            if self.current is not producer or not self._started:
                return
            fresh = self._make()
            try:
                await fresh.start()
            except KafkaError as start_exc:
                logger.warning("could not start a new Kafka producer: %r", start_exc)
                await fresh.stop()
                return
            self.current = fresh
            logger.warning(
                "the Kafka producer was lost (%s): a new one took over", type(exc).__name__
            )
        await producer.stop()


async def acknowledged(futures: Sequence[asyncio.Future[Any]], *, timeout_s: float) -> None:
    """Wait until the broker has acknowledged every record of ``futures`` (what aiokafka's
    ``send`` returned), at most ``timeout_s``, idempotent producer or not.

    Raises:
        KafkaTimeoutError: some were not acknowledged in time; an idempotent producer still
            writes them later (once), so a caller that publishes them again may write them twice.
        KafkaError: the first failure, in the order of ``futures``.
    """
    if not futures:
        return
    try:
        _, pending = await asyncio.wait(futures, timeout=timeout_s)
    except asyncio.CancelledError:
        for future in futures:
            future.add_done_callback(_retrieved)
        raise
    for future in pending:
        future.add_done_callback(_retrieved)
    failures = [f.exception() for f in futures if f.done() and not f.cancelled()]
    first = next((exc for exc in failures if exc is not None), None)
    if first is not None:
        raise first
    if pending:
        raise KafkaTimeoutError(
            f"{len(pending)} of {len(futures)} records not acknowledged within {timeout_s:g} s"
        )


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a late outcome as seen (asyncio logs an exception no one retrieved at ERROR)."""
    if not future.cancelled():
        future.exception()
