"""``bench.cluster``: how each app's executors are dealt over the gateway pods."""

from __future__ import annotations

import pytest

from bench.cluster import pod_share
from bench.swarm import Spec


@pytest.mark.parametrize(("count", "pods"), [(10_000, 3), (7, 3), (2, 3), (5, 1)])
def test_every_executor_of_an_app_goes_to_exactly_one_pod(count: int, pods: int) -> None:
    spec = Spec("bench-1", "key", 20_000, count)
    shares = [pod_share(spec, pod, pods) for pod in range(pods)]
    numbers = [n for s in shares for n in range(s.first, s.first + s.count)]
    assert sorted(numbers) == list(range(20_000, 20_000 + count))
    assert all(s.app == "bench-1" and s.key == "key" for s in shares)
    assert all(s.count <= -(-count // pods) for s in shares), shares  # no pod gets more
