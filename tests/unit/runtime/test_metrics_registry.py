"""``runtime.metrics``: the names and labels Baton exports, computed families, close codes and
consumer lag, read back through Prometheus' own text parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from runtime.metrics import (
    APP_FAMILIES,
    CONSUMER_LAG,
    EXECUTORS_CONNECTED,
    ErrorKind,
    Metrics,
    close_code_label,
    documented_families,
)


def parsed(metrics: Metrics) -> dict[str, dict[frozenset[tuple[str, str]], float]]:
    samples: dict[str, dict[frozenset[tuple[str, str]], float]] = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return samples


def test_each_process_has_its_own_registry() -> None:
    a, b = Metrics("gateway"), Metrics("worker")
    a.sessions_opened.inc()
    assert parsed(a)["baton_sessions_opened_total"] == {frozenset(): 1}
    assert parsed(b)["baton_sessions_opened_total"] == {frozenset(): 0}
    assert parsed(b)["baton_info"] == {frozenset({("role", "worker")}): 1}


def test_close_codes_are_bounded() -> None:
    assert close_code_label(1000) == "1000"
    assert close_code_label(1006) == "1006"
    assert close_code_label(4321) == "other"
    assert close_code_label(None) == "none"
    metrics = Metrics()
    for code in range(3000, 5000):
        metrics.sessions_closed.labels(code=close_code_label(code)).inc()
    assert parsed(metrics)["baton_sessions_closed_total"] == {frozenset({("code", "other")}): 2000}


def test_consumer_lag_sums_the_partitions_of_a_topic() -> None:
    metrics = Metrics()
    metrics.consumed("events", 0, offset=9, highwater=10)  # caught up
    metrics.consumed("events", 1, offset=4, highwater=20)  # 15 behind
    metrics.consumed("events", 1, offset=5, highwater=20)  # then 14
    metrics.consumed("replies", 0, offset=0, highwater=None)  # not known yet: counted only
    samples = parsed(metrics)
    assert samples[CONSUMER_LAG.name] == {frozenset({("topic", "events")}): 14}
    assert samples["baton_events_consumed_total"] == {
        frozenset({("topic", "events")}): 3,
        frozenset({("topic", "replies")}): 1,
    }


def test_snapshot_families_are_computed_at_each_scrape() -> None:
    metrics = Metrics()
    sessions: dict[tuple[str, ...], float] = {("shop", "v1", "pod-a"): 2.0}
    metrics.add_snapshot([EXECUTORS_CONNECTED], lambda: {EXECUTORS_CONNECTED.name: sessions})
    key = frozenset({("app", "shop"), ("version", "v1"), ("pod", "pod-a")})
    assert parsed(metrics)[EXECUTORS_CONNECTED.name] == {key: 2}
    sessions[("shop", "v1", "pod-a")] = 1.0
    assert parsed(metrics)[EXECUTORS_CONNECTED.name] == {key: 1}


def test_store_families_counters_end_in_total() -> None:
    metrics = Metrics()
    metrics.add_snapshot(APP_FAMILIES, lambda: {f.name: {("shop",): 3.0} for f in APP_FAMILIES})
    samples = parsed(metrics)
    assert samples["baton_app_workflows_succeeded_total"] == {frozenset({("app", "shop")}): 3}
    assert samples["baton_app_workflows_enqueued"] == {frozenset({("app", "shop")}): 3}


def test_errors_are_counted_by_kind() -> None:
    metrics = Metrics()
    metrics.error(ErrorKind.PUBLISH)
    metrics.error(ErrorKind.PUBLISH)
    metrics.error(ErrorKind.STORE)
    assert parsed(metrics)["baton_errors_total"] == {
        frozenset({("kind", "publish")}): 2,
        frozenset({("kind", "store")}): 1,
    }


def test_every_family_is_documented_with_its_labels() -> None:
    docs = {d.name: d for d in documented_families(Metrics())}
    assert docs["baton_executors_connected"].labels == ("app", "version", "pod")
    assert docs["baton_command_round_trip_seconds"].labels == ("kind", "outcome")
    assert docs["baton_app_workflows_started_total"].kind == "counter"
    assert docs["baton_recovery_sent_seconds"].kind == "histogram"
    # Never a label per executor or per workflow.
    for doc in docs.values():
        assert not {"executor_id", "executor", "workflow_id", "workflow"} & set(doc.labels)
