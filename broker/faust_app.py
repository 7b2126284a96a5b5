"""The Faust app: topics and the changelog-backed tables, declared in one place.

Agents live elsewhere (``recovery/agent.py`` folds executor events and runs the policy; it imports
this module, never the reverse). Values are raw bytes with Baton's own codec, so records produced
by plain aiokafka (the gateway) decode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from mode import CrashingSupervisor

from broker.faust_transport import use_transport
from streams.topics import Topics, TopicSpec

LIVENESS_TABLE = "liveness"
CAPTURE_CURSOR_TABLE = "capture-cursors"
WORKFLOW_TABLE = "workflows"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerApp:
    """The Faust app and the handles agents need."""

    app: faust.App
    topics: Topics
    executor_events: Any
    """Faust topic of executor events (raw key and value)."""
    commands: Any
    audit: Any
    liveness: Any
    """Table: one entry per executor and per recovery of each app (``recovery.table``)."""
    workflow_events: Any
    """Faust topic of workflow statuses and steps (keyed ``{app}/{workflow_id}``)."""
    capture_cursors: Any
    """Table: app name -> encoded ``CaptureCursor`` (co-partitioned with executor events)."""
    workflows: Any
    """Table: ``{app}/{workflow_id}`` -> encoded ``capture.workflow_table.WorkflowMark``."""

    def changelog_specs(self) -> tuple[TopicSpec, ...]:
        """The tables' changelog topics, for ``broker.admin.ensure_topics`` before the app starts.

        Faust declares them itself, but does not wait for them: Apache Kafka's brokers learn a new
        topic a moment after CreateTopics returns, and a table whose changelog shows 0 partitions
        then crashes its agent (PartitionsMismatch). Created first, leaders awaited, they are
        there when Faust first asks; Faust's own declaration then finds them.
        """
        return tuple(
            TopicSpec(
                name=table.changelog_topic.get_topic_name(),
                partitions=self.topics.partitions,
                compacted=True,
            )
            for table in (self.liveness, self.capture_cursors, self.workflows)
        )


def create_worker_app(
    *,
    bootstrap: str,
    topics: Topics,
    datadir: Path,
    app_id: str | None = None,
    fetch_max_wait_ms: int = 50,
    replication: int = 1,
    idempotent_producer: bool = False,
) -> WorkerApp:
    """Declare the Faust app for one deployment (its id derives from the topic prefix); its
    changelog and repartition topics are replicated ``replication`` times
    (``broker.admin.replication_for``); its producer is idempotent if ``idempotent_producer``
    (only where the broker grants it: ``broker.idempotence``)."""
    app = faust.App(
        app_id or f"{topics.prefix}worker",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=str(datadir),
        web_enabled=False,
        topic_partitions=topics.partitions,
        topic_allow_declare=True,
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,  # all in-sync replicas (Tansu, one node: the same as 1)
        topic_replication_factor=replication,
        consumer_auto_offset_reset="earliest",
        table_cleanup_interval=30.0,
        # Tansu completes a group join after session_timeout / 2: keep it short.
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        # An agent that crashes crashes the app: the worker role exits non-zero and is
        # restarted, instead of living on at 0 % CPU with its agents gone (issue 12).
        agent_supervisor=CrashingSupervisor,
    )
    use_transport(app, fetch_max_wait_ms=fetch_max_wait_ms, idempotent_producer=idempotent_producer)

    def raw_topic(name: str) -> Any:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=topics.partitions,
        )

    def raw_table(name: str) -> Any:
        return app.Table(
            name, default=None, key_type=bytes, value_type=bytes, partitions=topics.partitions
        )

    return WorkerApp(
        app=app,
        topics=topics,
        executor_events=raw_topic(topics.executor_events),
        commands=raw_topic(topics.commands),
        audit=raw_topic(topics.audit),
        liveness=raw_table(LIVENESS_TABLE),
        workflow_events=raw_topic(topics.workflow_events),
        capture_cursors=raw_table(CAPTURE_CURSOR_TABLE),
        workflows=raw_table(WORKFLOW_TABLE),
    )


@contextmanager
def writing_as(stream: Any) -> Iterator[Callable[[Any], None]]:
    """Table writes made as if another event were current: yields a function that makes an
    event the stream's current one (Faust writes a changelog record to the partition of the
    current event), and puts the stream's own current event back when the block ends.

    A batched agent (``take_events``) needs this: Faust's buffering processor, suspended while
    the agent handles a batch, reads the stream's ``current_event`` when it resumes, as the
    event of the value it buffers. An event of the batch left current there replaced the next
    record by that older one, and the next record was lost (a recovery's ``succeeded`` report
    arriving right after its ``sent``). Use it with no ``await`` inside the block."""
    previous = stream.current_event
    try:
        yield stream._set_current_event
    finally:
        stream._set_current_event(previous)
