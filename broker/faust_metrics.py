"""Counts what the Faust worker reads and writes, as a Faust sensor over ``runtime.metrics``.

Every record a Faust consumer hands to a stream (``on_message_in``) is counted by topic, with
its partition's lag (the consumer's high watermark of that partition, minus the record's
offset); every record the Faust producer writes (``on_send_completed``) or fails to write
(``on_send_error``) too. Changelog topics of the tables are counted like the others.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.sensors import Sensor

from runtime.metrics import ErrorKind, Metrics


class FaustMetrics(Sensor):
    """Add to a Faust app with ``app.sensors.add(FaustMetrics(app, metrics))``."""

    def __init__(self, app: faust.App, metrics: Metrics) -> None:
        super().__init__()
        self._app = app
        self._metrics = metrics

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        try:
            highwater = self._app.consumer.highwater(tp)
        except (AssertionError, KeyError, AttributeError):  # a revoked partition has none
            highwater = None
        self._metrics.consumed(tp.topic, tp.partition, offset, highwater)

    def on_send_initiated(
        self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
    ) -> Any:
        return topic

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        self._metrics.events_published.labels(topic=str(state)).inc()

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        self._metrics.error(ErrorKind.PUBLISH)


def add_faust_metrics(app: faust.App, metrics: Metrics) -> None:
    """Count ``app``'s records into ``metrics``."""
    app.sensors.add(FaustMetrics(app, metrics))
