"""Faust's aiokafka transport with a configurable consumer fetch wait, and an idempotent producer
where the broker grants one.

faust-streaming 0.15.3 builds its worker consumer with a hard-coded ``fetch_max_wait_ms=1500``
(``faust/transport/drivers/aiokafka.py``, ``AIOKafkaConsumerThread._create_worker_consumer``).
On Tansu a Faust worker's Fetch is often held for much of that wait after a record arrives:
produce-to-agent latency measured p50 ~420 ms / p99 ~760 ms at 1500 ms, and p50 ~31 ms /
p99 ~89 ms at 100 ms. This module keeps Faust's driver and changes that one number; the cost is
one idle Fetch round trip per ``fetch_max_wait_ms`` per worker.

faust-streaming 0.15.3 has no setting for an idempotent producer: its aiokafka ``Producer`` sets
``enable_idempotence`` only under ``processing_guarantee="exactly_once"`` (``_settings_extra``),
which also makes it transactional, and Tansu has no transactions. This module's producer adds
``enable_idempotence`` alone when the role's probe found the broker grants it
(``broker.idempotence``).

Owns the only subclassing of Faust's transport. Must not import ``gateway``, ``recovery`` or
``console``. Call :func:`use_transport` right after creating the app, before it starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

DEFAULT_FETCH_MAX_WAIT_MS = 100
"""Upper bound on the broker-side wait of one Fetch; also the idle poll period per partition."""


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, building the aiokafka consumer with the transport's fetch wait."""

    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> Any:
        consumer = super()._create_worker_consumer(transport)
        fetch_max_wait_ms = cast(Transport, transport).fetch_max_wait_ms
        # aiokafka 0.14 keeps the constructor argument here and hands it to its Fetcher in
        # start(), which Faust calls right after this method returns (AIOKafkaConsumerThread
        # .on_start). Fail loudly if a new aiokafka renames it, instead of silently being slow.
        if not hasattr(consumer, "_fetch_max_wait_ms"):
            raise RuntimeError(
                f"aiokafka {aiokafka.__version__} has no AIOKafkaConsumer._fetch_max_wait_ms"
            )
        consumer._fetch_max_wait_ms = fetch_max_wait_ms
        return consumer


class Consumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer running :class:`ConsumerThread`."""

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Producer(faust_aiokafka.Producer):
    """Faust's aiokafka producer, idempotent if the transport says so."""

    def _settings_extra(self) -> Mapping[str, Any]:
        extra = dict(super()._settings_extra())
        if cast(Transport, self.transport).idempotent_producer:
            # aiokafka requires acks=all with it: the app's producer_acks is -1.
            extra["enable_idempotence"] = True
        return extra


class Transport(faust_aiokafka.Transport):
    """Faust's ``kafka://`` transport whose worker consumer waits at most ``fetch_max_wait_ms``,
    and whose producer is idempotent if ``idempotent_producer``."""

    Consumer = Consumer
    Producer = Producer

    def __init__(
        self,
        url: Any,
        app: faust.App,
        loop: Any = None,
        *,
        fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS,
        idempotent_producer: bool = False,
    ) -> None:
        """Create the transport.

        Args:
            url: The app's consumer broker URLs (``app.conf.broker_consumer``).
            app: The Faust app.
            loop: Event loop, as in Faust's transport (``None`` resolves it lazily).
            fetch_max_wait_ms: Longest time the broker may hold one Fetch request.
            idempotent_producer: Build the app's producer with ``enable_idempotence``.
        """
        super().__init__(url, app, loop=loop)
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.idempotent_producer = idempotent_producer


def use_transport(
    app: faust.App,
    *,
    fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS,
    idempotent_producer: bool = False,
) -> None:
    """Make ``app`` use :class:`Transport` with the given fetch wait and producer.

    Uses the public ``App.transport`` setter: the app builds both its consumer and its producer
    from it (``App._new_producer``; the separate ``producer_transport`` is not used for them).
    Must run before the app creates either (before the worker or ``app.start()``).

    Args:
        app: The Faust app, not started yet.
        fetch_max_wait_ms: Longest time the broker may hold one Fetch request; must be positive.
        idempotent_producer: Make the app's producer idempotent (only where the broker grants it:
            ``broker.idempotence``).

    Raises:
        ValueError: ``fetch_max_wait_ms`` is not positive.
    """
    if fetch_max_wait_ms <= 0:
        raise ValueError(f"fetch_max_wait_ms must be positive, got {fetch_max_wait_ms}")
    app.transport = Transport(
        app.conf.broker_consumer,
        app,
        fetch_max_wait_ms=fetch_max_wait_ms,
        idempotent_producer=idempotent_producer,
    )
