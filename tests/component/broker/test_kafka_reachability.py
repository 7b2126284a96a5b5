"""The ``kafka`` readiness check against the real embedded broker: reachable with Baton's
topics, missing topics named, a closed port named."""

from __future__ import annotations

from broker.admin import ensure_topics
from broker.reachability import kafka_check
from streams.topics import Topics
from tests.baton_cluster import free_port


async def test_reachable_with_its_topics(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    topics = Topics(prefix=unique_topic_prefix, partitions=2)
    names = [spec.name for spec in topics.specs()]
    check = kafka_check(kafka_bootstrap, names)

    missing = await check()
    await ensure_topics(kafka_bootstrap, topics.specs())
    present = await check()

    assert missing == f"topics missing on {kafka_bootstrap}: {', '.join(sorted(names))}"
    assert present is None


async def test_a_closed_port() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"

    problem = await kafka_check(bootstrap, ["t"])()

    assert problem == f"cannot connect to {bootstrap}: connection refused"
