"""Kafka clients that never create a topic by asking about it.

aiokafka asks Metadata for the topics it produces to or consumes by name, with
``allow_auto_topic_creation`` true (``aiokafka.protocol.metadata.MetadataRequest``: the flag
defaults to true from version 4). Tansu, the embedded broker, then creates the topic with 4
partitions, and so does an Apache Kafka broker with ``auto.create.topics.enable``. When the
embedded broker is restarted it comes back empty, and the roles' clients reconnect within
milliseconds: without this, they would re-create Baton's topics with the wrong partition count
before the supervisor re-creates them with the right one (``broker.admin.ensure_topics``), and
the co-partitioned topics and tables would no longer line up.

Owns the one change to aiokafka's behaviour: the Metadata requests of its clients say
``allow_auto_topic_creation=False`` (as the Java consumer does by default). A topic that is
missing stays missing, and its clients wait for it, until ``ensure_topics`` creates it. Call
:func:`forbid_topic_auto_creation` once per process, before any client starts. Must not import
``gateway``, ``recovery`` or ``console``.
"""

from __future__ import annotations

from aiokafka import client as aiokafka_client
from aiokafka.protocol.metadata import MetadataRequest


class _MetadataRequestWithoutAutoCreation(MetadataRequest):  # type: ignore[misc]
    """aiokafka's Metadata request, with ``allow_auto_topic_creation`` false unless given."""

    def __init__(
        self, topics: list[str] | None = None, allow_auto_topic_creation: bool | None = None
    ) -> None:
        super().__init__(
            topics,
            allow_auto_topic_creation=bool(allow_auto_topic_creation),
        )


def forbid_topic_auto_creation() -> None:
    """Make every aiokafka client of this process (Faust's included) ask Metadata without
    creating topics. Idempotent.

    Raises:
        RuntimeError: this aiokafka no longer builds its Metadata requests where it did
            (``aiokafka.client.MetadataRequest``), so the change would silently do nothing.
    """
    current = getattr(aiokafka_client, "MetadataRequest", None)
    if current is None or not issubclass(current, MetadataRequest):
        raise RuntimeError("aiokafka.client.MetadataRequest is gone: cannot forbid auto-creation")
    aiokafka_client.MetadataRequest = _MetadataRequestWithoutAutoCreation
