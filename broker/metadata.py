"""One Metadata request asked of bootstrap servers, each on a connection of this module's own that
is closed whatever happens.

aiokafka's own bootstrap (``AIOKafkaClient.bootstrap``, which ``AIOKafkaAdminClient.start`` calls)
leaves its connection open when it is cancelled while waiting for the answer: a readiness check or
probe cut by its timeout, or a client closing meanwhile, left a connection behind each time. Used by
the readiness check (``broker.reachability``) and the rebootstrap (``broker.rebootstrap``). Must not
import ``gateway``, ``recovery`` or ``console``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from aiokafka import client as aiokafka_client
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError


def metadata_request(topics: Collection[str] | None) -> Any:
    """A Metadata request for ``topics`` (none or empty: every topic, as a client's metadata update
    asks), built as aiokafka's clients build theirs (so that ``broker.auto_create`` applies: asking
    never creates a topic)."""
    return aiokafka_client.MetadataRequest(list(topics) if topics else None)


async def ask_bootstrap_servers(
    servers: Iterable[tuple[str, int]], request: Any, options: Mapping[str, Any]
) -> tuple[str, Any] | None:
    """``(server, answer)`` of the first server whose answer to ``request`` names brokers, asked
    in turn; ``None`` when none answers so.

    Args:
        servers: ``(host, port)`` of each bootstrap server.
        request: the Metadata request (``metadata_request``).
        options: ``aiokafka.conn.create_conn``'s keyword options (client id, timeouts, TLS, SASL).
    """
    for host, port in servers:
        try:
            conn = await create_conn(host, port, **options)
        except (OSError, KafkaError, TimeoutError):
            continue
        try:
            metadata = await conn.send(request)
        except (KafkaError, TimeoutError):
            continue
        finally:
            conn.close()
        if metadata.brokers:
            return f"{host}:{port}", metadata
    return None
