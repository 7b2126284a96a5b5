"""Whether a role can reach its Kafka broker and find Baton's topics there: the ``kafka`` check
of ``runtime.readiness``.

A plain TCP connection first (aiokafka logs every refused connection at ERROR), then one
Metadata request for every topic (never by name: that would create them, ``broker.admin``).
Topics that are missing mean a broker that came back empty and has not been given them again
yet. Must not import ``gateway``, ``recovery`` or ``console``.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.conn import collect_hosts

from broker.admin import connect_problem
from broker.metadata import ask_bootstrap_servers, metadata_request
from runtime.readiness import Check

REQUEST_TIMEOUT_MS = 2_000


def kafka_check(bootstrap: str, topics: Sequence[str]) -> Check:
    """A check that ``bootstrap`` answers as Kafka and holds ``topics``.

    Args:
        bootstrap: ``host:port`` of a broker (or several, comma-separated).
        topics: full names of the topics the role needs.
    """

    async def check() -> str | None:
        problem = await connect_problem(bootstrap)
        if problem is not None:
            return f"cannot connect to {bootstrap}: {problem}"
        # Its own connections (``broker.metadata``): the check runs under a timeout, and a
        # client's bootstrap cancelled by it leaves its connection open.
        servers = [(host, port) for host, port, _ in collect_hosts(bootstrap)]
        options = {"request_timeout_ms": REQUEST_TIMEOUT_MS}
        answered = await ask_bootstrap_servers(servers, metadata_request(None), options)
        if answered is None:
            return f"{bootstrap} does not answer as Kafka: no Metadata answer naming brokers"
        _, metadata = answered
        existing = {topic["topic"] for topic in metadata.to_object()["topics"]}
        missing = sorted(set(topics) - existing)
        if missing:
            return f"topics missing on {bootstrap}: {', '.join(missing)}"
        return None

    return check
