"""``deploy/``'s Prometheus and Grafana examples read only metrics Baton exports: every metric
name in an alert rule, a dashboard panel or a dashboard variable is one of the registry's
(``runtime.metrics``), and every one of them reads at least one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from runtime.metrics import DBOS_CONDUCTOR_FAMILIES, Metrics, documented_families

DEPLOY = Path(__file__).parents[3] / "deploy"
PROMETHEUS_BUILTINS = {"up"}
"""Series Prometheus makes itself for every target."""
IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def exported() -> set[str]:
    """Every series name Baton's roles serve (a histogram's ``_bucket``, ``_count``, ``_sum``)."""
    names = set()
    for family in documented_families(Metrics()):
        if family.kind == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_count", f"{family.name}_sum"}
        else:
            names.add(family.name)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: Baton's, and Prometheus' own ``up``."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    tokens = set(IDENTIFIER.findall(without_strings))
    return {t for t in tokens if t.startswith("baton_") or t in PROMETHEUS_BUILTINS}


def alert_expressions() -> Iterator[tuple[str, str]]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield rule["alert"], rule["expr"]


def dashboard_expressions(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target["expr"]
    for variable in dashboard["templating"]["list"]:
        yield f"${variable['name']}", variable["query"]["query"]


def test_alert_rules_read_only_exported_metrics() -> None:
    names = exported()
    alerts = list(alert_expressions())
    assert {"BatonAppHasNoConnectedExecutor", "BatonRecoveriesFailing"} <= {a for a, _ in alerts}
    assert {"BatonConsumerLagHigh", "BatonCaptureLagHigh"} <= {a for a, _ in alerts}
    for alert, expr in alerts:
        used = metric_names(expr)
        assert used, f"{alert} reads no metric: {expr}"
        assert used <= names | PROMETHEUS_BUILTINS, f"{alert} reads {used - names}"


def test_the_dashboard_parses_and_reads_only_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "baton.json").read_text(encoding="utf-8"))
    assert dashboard["uid"] == "baton"
    names = exported()
    read: set[str] = set()
    for title, expr in dashboard_expressions(dashboard):
        used = metric_names(expr)
        assert used, f"panel {title!r} reads no metric: {expr}"
        assert used <= names, f"panel {title!r} reads {used - names}"
        read |= used
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    # The dashboard shows every family (of a histogram, its buckets).
    shown = {n.removesuffix("_bucket").removesuffix("_count") for n in read}
    # Baton's own families; the opt-in ``dbos_conductor_v1_`` ones are for dashboards built for
    # DBOS's Conductor, and this dashboard shows the same figures under Baton's names.
    compatible = {f.name for f in DBOS_CONDUCTOR_FAMILIES}
    families = {f.name for f in documented_families(Metrics())} - compatible
    assert compatible & read == set(), "the dashboard reads opt-in families"
    assert families <= shown, f"not on the dashboard: {families - shown}"


def test_the_scrape_config_names_every_roles_default_port() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert targets == {
        "baton-console": ["127.0.0.1:8080"],
        "baton-gateway": ["127.0.0.1:8090"],
        "baton-worker": ["127.0.0.1:8091"],
    }
    assert config["rule_files"] == ["alerts.yml"]
