"""Reading ``/metrics`` in tests, with Prometheus' own text parser: ``parse`` a scrape into
samples by name and label set, ``value`` sums the samples matching some labels, ``scrape`` GETs
a role's ``/metrics`` over HTTP."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

Labels = frozenset[tuple[str, str]]
Samples = dict[str, dict[Labels, float]]


def parse(text: str) -> Samples:
    """Sample name (``_total``, ``_bucket``... included) -> label set -> value."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for k, v in samples.get(name, {}).items() if wanted <= k)


def scrape(port: int, host: str = "127.0.0.1") -> Samples:
    """``GET http://host:port/metrics``, which must answer Prometheus' text format."""
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
        content_type = response.headers["Content-Type"]
        assert content_type.startswith("text/plain; version="), content_type
        return parse(response.read().decode())
