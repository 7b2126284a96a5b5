"""Baton's Prometheus metrics: every name, label and help text, in one place, and the one
``import prometheus_client``.

Each process makes one ``Metrics`` (its own ``CollectorRegistry``, never the library's global
one) and hands it down to the parts that count; each role exposes it at ``/metrics``
(``Metrics.exposition``). A part a role does not run leaves its families without samples.

Cardinality is bounded by construction: labels are apps, application versions and pods (as the
issue of each family says), topics, close codes (folded into ``CLOSE_CODES``), and enums of
Baton's own (kinds, outcomes, operations). Never an executor id or a workflow id. App names and
versions arrive bounded (``streams.bounds``), and apps are as many as the store has keys for.
The ``dbos_conductor_v1_`` families (off unless asked for) add, as DBOS names them, workflow
names and queue names: as many as the apps' code defines.

Families computed at scrape time (connected sessions, consumer lag, the store's per-app
workflow counts) are ``SnapshotFamily``s: a callable gives the current samples, and the
``Snapshot`` collector turns them into families when Prometheus scrapes.

Imports nothing of Baton's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The text exposition format's content type."""

CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1011, 1012, 1013, 1014})
"""WebSocket close codes counted under their own number; any other is ``other`` (a peer picks
its close code: unbounded, it would make a series per number)."""

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RECOVERY_BUCKETS_S = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 120.0, 300.0, 600.0)
CAPTURE_BUCKETS_S = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class ErrorKind(StrEnum):
    """What ``baton_errors_total`` counts, by the part that failed."""

    PUBLISH = "publish"
    """A record could not be written to Kafka."""
    STORE = "store"
    """The store could not be read or written."""
    COMMAND = "command"
    """A gateway failed to carry out a command (a bug or an unforeseen reply)."""
    HANDSHAKE = "handshake"
    """An executor connected but never answered ``executor_info``."""
    DECODE = "decode"
    """A record on a topic could not be decoded."""


def close_code_label(code: int | None) -> str:
    """The ``code`` label of a closed session: its number, ``other`` or ``none``."""
    if code is None:
        return "none"
    return str(code) if code in CLOSE_CODES else "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotFamily:
    """A family whose samples are computed when Prometheus scrapes."""

    name: str
    """Without ``_total`` for a counter (the exposition adds it)."""
    documentation: str
    labels: tuple[str, ...]
    kind: str = "gauge"
    """``gauge`` or ``counter``."""
    stamped: bool = False
    """Its samples carry the timestamp of the window they describe (``Snapshot``'s ``stamp``)."""

    def build(
        self, samples: Mapping[tuple[str, ...], float], timestamp_s: float | None = None
    ) -> Metric:
        family_type = CounterMetricFamily if self.kind == "counter" else GaugeMetricFamily
        family = family_type(self.name, self.documentation, labels=list(self.labels))
        stamp = timestamp_s if self.stamped else None
        for values, value in samples.items():
            family.add_metric(list(values), value, timestamp=stamp)
        return family


Samples = Mapping[tuple[str, ...], float]
"""Label values (in the family's order) to the sample's value."""


class Snapshot(Collector):
    """Families computed at scrape time by ``source``, which returns samples by family name;
    ``stamp`` gives the timestamp (epoch seconds) of the ``stamped`` families' samples (None:
    unstamped)."""

    def __init__(
        self,
        families: Iterable[SnapshotFamily],
        source: Callable[[], Mapping[str, Samples]],
        stamp: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._families = tuple(families)
        self._source = source
        self._stamp = stamp

    def describe(self) -> Iterable[Metric]:
        return [family.build({}) for family in self._families]

    def collect(self) -> Iterable[Metric]:
        samples = self._source()
        stamp = self._stamp()
        return [f.build(samples.get(f.name, {}), stamp) for f in self._families]


# -- families computed at scrape time ------------------------------------------------------

EXECUTORS_CONNECTED = SnapshotFamily(
    name="baton_executors_connected",
    documentation="Executor sessions this gateway pod holds, by app, application version and "
    "pod (the gateway's id).",
    labels=("app", "version", "pod"),
)
CONSUMER_LAG = SnapshotFamily(
    name="baton_consumer_lag_records",
    documentation="Records on a topic not yet consumed by this process (the partitions' high "
    "watermark minus the next offset to read, summed over the partitions it reads).",
    labels=("topic",),
)

APP_WORKFLOWS_STARTED = SnapshotFamily(
    name="baton_app_workflows_started",
    documentation="Workflows of an app in Baton's store, whatever their status (from the "
    "store: deleting workflows lowers it, which rate() reads as a counter reset).",
    labels=("app",),
    kind="counter",
)
APP_WORKFLOWS_SUCCEEDED = SnapshotFamily(
    name="baton_app_workflows_succeeded",
    documentation="Workflows of an app in Baton's store with status SUCCESS.",
    labels=("app",),
    kind="counter",
)
APP_WORKFLOWS_FAILED = SnapshotFamily(
    name="baton_app_workflows_failed",
    documentation="Workflows of an app in Baton's store with status ERROR or "
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED.",
    labels=("app",),
    kind="counter",
)
APP_WORKFLOWS_CANCELLED = SnapshotFamily(
    name="baton_app_workflows_cancelled",
    documentation="Workflows of an app in Baton's store with status CANCELLED.",
    labels=("app",),
    kind="counter",
)
APP_WORKFLOWS_ENQUEUED = SnapshotFamily(
    name="baton_app_workflows_enqueued",
    documentation="Workflows of an app waiting on a queue (status ENQUEUED) in Baton's store.",
    labels=("app",),
)
APP_WORKFLOWS_PENDING = SnapshotFamily(
    name="baton_app_workflows_pending",
    documentation="Workflows of an app running or waiting to be recovered (status PENDING) in "
    "Baton's store.",
    labels=("app",),
)
APP_OLDEST_ENQUEUED_AGE = SnapshotFamily(
    name="baton_app_workflows_oldest_enqueued_age_seconds",
    documentation="Age (since its creation) of an app's oldest ENQUEUED workflow; 0 with none.",
    labels=("app",),
)
APP_OLDEST_PENDING_AGE = SnapshotFamily(
    name="baton_app_workflows_oldest_pending_age_seconds",
    documentation="Age (since its creation) of an app's oldest PENDING workflow; 0 with none.",
    labels=("app",),
)
APP_EXECUTORS = SnapshotFamily(
    name="baton_app_executors",
    documentation="Executors of an app Baton's store knows, by state (connected, "
    "disconnected, dead, recovered) and application version.",
    labels=("app", "version", "state"),
)
APP_FAMILIES = (
    APP_WORKFLOWS_STARTED,
    APP_WORKFLOWS_SUCCEEDED,
    APP_WORKFLOWS_FAILED,
    APP_WORKFLOWS_CANCELLED,
    APP_WORKFLOWS_ENQUEUED,
    APP_WORKFLOWS_PENDING,
    APP_OLDEST_ENQUEUED_AGE,
    APP_OLDEST_PENDING_AGE,
    APP_EXECUTORS,
)
"""The per-app families the console computes from the store (``store.app_metrics``)."""

# -- DBOS Conductor's families (BATON_CONSOLE_DBOS_CONDUCTOR_METRICS=1) -----------------------
# Named, typed and labelled as DBOS documents its Conductor's metrics endpoint (dbos-docs,
# docs/production/metrics.md): every family a gauge prefixed ``dbos_conductor_v1_`` with an
# ``application`` label. Rates are per-second averages over the last completed clock-aligned
# minute; rates and windowed maxima are stamped with that minute's start.

_DBOS = "dbos_conductor_v1_"
_WINDOW = "in the last completed clock-aligned minute"


def _dbos_family(name: str, documentation: str, *labels: str, stamped: bool) -> SnapshotFamily:
    return SnapshotFamily(
        name=_DBOS + name,
        documentation=documentation,
        labels=("application", *labels),
        stamped=stamped,
    )


def _dbos_rate(name: str, what: str) -> SnapshotFamily:
    return _dbos_family(
        name,
        f"Workflows {what} per second {_WINDOW}, by workflow name and queue ('' for none).",
        "workflow_name",
        "queue_name",
        stamped=True,
    )


DBOS_STARTED_RATE = _dbos_rate("workflow_started_rate", "created")
DBOS_DEQUEUED_RATE = _dbos_rate("workflow_dequeued_rate", "on a queue dequeued")
DBOS_SUCCESS_RATE = _dbos_rate("workflow_success_rate", "completed with SUCCESS")
DBOS_FAILED_RATE = _dbos_rate(
    "workflow_failed_rate", "completed with ERROR or MAX_RECOVERY_ATTEMPTS_EXCEEDED"
)
DBOS_CANCELLED_RATE = _dbos_rate("workflow_cancelled_rate", "cancelled")
DBOS_ENQUEUED_COUNT = _dbos_family(
    "workflow_enqueued_count",
    "Workflows now ENQUEUED in Baton's store, by workflow name and queue.",
    "workflow_name",
    "queue_name",
    stamped=False,
)
DBOS_PENDING_COUNT = _dbos_family(
    "workflow_pending_count",
    "Workflows now PENDING in Baton's store, by workflow name.",
    "workflow_name",
    stamped=False,
)
DBOS_OLDEST_ENQUEUED = _dbos_family(
    "workflow_oldest_enqueued_timestamp_seconds",
    "Creation time (Unix seconds) of the oldest ENQUEUED workflow, by workflow name and queue; "
    "no series when none is enqueued.",
    "workflow_name",
    "queue_name",
    stamped=False,
)
DBOS_OLDEST_PENDING = _dbos_family(
    "workflow_oldest_pending_timestamp_seconds",
    "Creation time (Unix seconds) of the oldest PENDING workflow, by workflow name; no series "
    "when none is pending.",
    "workflow_name",
    stamped=False,
)
DBOS_MAX_QUEUE_WAIT = _dbos_family(
    "workflow_max_queue_wait_seconds",
    f"Longest wait from creation to dequeue of the workflows that completed with SUCCESS "
    f"{_WINDOW} and were dequeued, by workflow name and queue.",
    "workflow_name",
    "queue_name",
    stamped=True,
)
DBOS_MAX_TOTAL_LATENCY = _dbos_family(
    "workflow_max_total_latency_seconds",
    f"Longest time from creation to completion of the workflows that completed with SUCCESS "
    f"{_WINDOW}, by workflow name and queue.",
    "workflow_name",
    "queue_name",
    stamped=True,
)
DBOS_EXECUTOR_COUNT = _dbos_family(
    "executor_count",
    "Executors of the application connected to Baton (status HEALTHY), by application version; "
    "0 for a version whose executors Baton's store knows but none is connected.",
    "status",
    "application_version",
    stamped=False,
)
DBOS_CONDUCTOR_FAMILIES = (
    DBOS_STARTED_RATE,
    DBOS_DEQUEUED_RATE,
    DBOS_SUCCESS_RATE,
    DBOS_FAILED_RATE,
    DBOS_CANCELLED_RATE,
    DBOS_ENQUEUED_COUNT,
    DBOS_PENDING_COUNT,
    DBOS_OLDEST_ENQUEUED,
    DBOS_OLDEST_PENDING,
    DBOS_MAX_QUEUE_WAIT,
    DBOS_MAX_TOTAL_LATENCY,
    DBOS_EXECUTOR_COUNT,
)
"""The ``dbos_conductor_v1_`` families the console adds, when asked, from the store
(``store.conductor_metrics``). DBOS's step families are not among them: Baton's store holds a
workflow's steps only when they were fetched, not every step that ran."""


class ConsumerLag:
    """Each partition's lag as of the last record read from it, summed by topic at scrape."""

    def __init__(self) -> None:
        self._lag: dict[tuple[str, int], int] = {}

    def note(self, topic: str, partition: int, offset: int, highwater: int) -> None:
        # The high watermark is the offset of the next record to be written: a consumer that
        # has just read ``offset`` is ``highwater - offset - 1`` records behind.
        self._lag[(topic, partition)] = max(0, highwater - offset - 1)

    def samples(self) -> dict[str, Samples]:
        by_topic: dict[tuple[str, ...], float] = {}
        for (topic, _), lag in self._lag.items():
            by_topic[(topic,)] = by_topic.get((topic,), 0) + lag
        return {CONSUMER_LAG.name: by_topic}


class Metrics:
    """The metrics of one process, in its own registry.

    Args:
        role: the process's role (``gateway``, ``worker``, ``console``), the ``role`` label of
            ``baton_info``.
    """

    def __init__(self, role: str = "test") -> None:
        # No ``*_created`` series: they double the output and no dashboard here reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in the library
        self.registry = CollectorRegistry(auto_describe=True)
        self.labels: dict[str, tuple[str, ...]] = {
            f.name: f.labels
            for f in (EXECUTORS_CONNECTED, CONSUMER_LAG, *APP_FAMILIES, *DBOS_CONDUCTOR_FAMILIES)
        }
        """Each family's label names, by family name (for the docs)."""
        self._gauge("baton_info", "Always 1: which role this process runs.", "role").labels(
            role=role
        ).set(1)
        self.sessions_opened = self._counter(
            "baton_sessions_opened",
            "Executor sessions opened on this gateway pod (executor_info answered).",
        )
        self.sessions_closed = self._counter(
            "baton_sessions_closed",
            "Executor sessions closed on this gateway pod, by WebSocket close code (a code "
            "outside the usual ones is 'other'; 'none' when no close frame came).",
            "code",
        )
        self.events_published = self._counter(
            "baton_events_published", "Records this process wrote to Kafka, by topic.", "topic"
        )
        self.events_consumed = self._counter(
            "baton_events_consumed", "Records this process read from Kafka, by topic.", "topic"
        )
        self.recovery_decisions = self._counter(
            "baton_recovery_decisions",
            "Recovery decisions this worker made, by outcome (declared_dead, target_chosen, "
            "sent, succeeded, failed, stranded, abandoned).",
            "outcome",
        )
        self.recovery_sent_seconds = self._histogram(
            "baton_recovery_sent_seconds",
            "From an executor's disconnect to the recovery request sent to a live executor "
            "(event time).",
            RECOVERY_BUCKETS_S,
        )
        self.command_round_trip_seconds = self._histogram(
            "baton_command_round_trip_seconds",
            "From a command sent to its outcome, by kind (the console's requests: get_workflow, "
            "cancel, ...; the gateway's: recover, poll) and outcome (ok, or why not).",
            LATENCY_BUCKETS_S,
            "kind",
            "outcome",
        )
        self.capture_lag_seconds = self._histogram(
            "baton_capture_lag_seconds",
            "From a workflow completing in DBOS (its updated_at) to Baton's store listing it "
            "completed.",
            CAPTURE_BUCKETS_S,
        )
        self.store_write_seconds = self._histogram(
            "baton_store_write_seconds",
            "How long one write transaction of the store took, by operation (app_state, "
            "workflows).",
            LATENCY_BUCKETS_S,
            "operation",
        )
        self.errors = self._counter(
            "baton_errors",
            "Failures this process logged and survived, by kind (publish, store, command, "
            "handshake, decode).",
            "kind",
        )
        self._lag = ConsumerLag()
        self.add_snapshot([CONSUMER_LAG], self._lag.samples)

    def _counter(self, name: str, documentation: str, *labels: str) -> Counter:
        self.labels[name] = labels
        return Counter(name, documentation, labels, registry=self.registry)

    def _gauge(self, name: str, documentation: str, *labels: str) -> Gauge:
        self.labels[name] = labels
        return Gauge(name, documentation, labels, registry=self.registry)

    def _histogram(
        self, name: str, documentation: str, buckets: tuple[float, ...], *labels: str
    ) -> Histogram:
        self.labels[name] = labels
        return Histogram(name, documentation, labels, buckets=buckets, registry=self.registry)

    def error(self, kind: ErrorKind) -> None:
        self.errors.labels(kind=kind.value).inc()

    def consumed(self, topic: str, partition: int, offset: int, highwater: int | None) -> None:
        """One record read from ``topic``: counted, and the partition's lag noted (``highwater``
        is the partition's end as the consumer last heard it; ``None``: unknown yet)."""
        self.events_consumed.labels(topic=topic).inc()
        if highwater is not None:
            self._lag.note(topic, partition, offset, highwater)

    def add_snapshot(
        self,
        families: Iterable[SnapshotFamily],
        source: Callable[[], Mapping[str, Samples]],
        stamp: Callable[[], float | None] = lambda: None,
    ) -> None:
        """Families whose samples ``source`` computes at each scrape (it must be quick and must
        not block: it runs inside the scrape); ``stamp``: the timestamp of ``stamped`` ones."""
        self.registry.register(Snapshot(families, source, stamp))

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)


@dataclass(frozen=True, slots=True, kw_only=True)
class FamilyDoc:
    """One family as ``docs/metrics.md`` lists it."""

    name: str
    kind: str
    labels: tuple[str, ...]
    documentation: str


def documented_families(metrics: Metrics) -> list[FamilyDoc]:
    """Every family Baton exports (the registry's, and the snapshot families whether or not
    this process computes them), by name: what ``docs/metrics.md`` lists."""
    families = {f.name: f for f in metrics.registry.collect()}
    for snapshot in (EXECUTORS_CONNECTED, CONSUMER_LAG, *APP_FAMILIES, *DBOS_CONDUCTOR_FAMILIES):
        families.setdefault(snapshot.name, snapshot.build({}))
    return [
        FamilyDoc(
            name=name + ("_total" if family.type == "counter" else ""),
            kind=family.type,
            labels=metrics.labels[name],
            documentation=family.documentation,
        )
        for name, family in sorted(families.items())
    ]
