"""Topic names and their shapes: the one home of Baton's topic layout.

Pure: imports nothing from Kafka or Faust, so the gateway, the recovery agent, the console and the
admin adapter can all share it.
"""

from __future__ import annotations

from dataclasses import dataclass

HOUR_MS = 60 * 60 * 1000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicSpec:
    """A topic Baton creates explicitly at start-up (Tansu has no CreatePartitions)."""

    name: str
    """Full topic name."""
    partitions: int
    """Partition count; keyed topics that are folded together must share it (co-partitioning)."""
    retention_ms: int | None = None
    """Retention asked of the broker; ``None`` keeps the broker default."""
    compacted: bool = False
    """``cleanup.policy=compact``: the broker keeps at least the latest record of each key (a
    table's changelog)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Topics:
    """The topic names of one Baton deployment (a prefix isolates deployments and tests)."""

    prefix: str = "baton."
    partitions: int = 8

    @property
    def executor_events(self) -> str:
        """Facts about executors (connected, disconnected, pod heartbeats, command results).

        Keyed by app name, so one app's whole liveness view lives on one partition: the recovery
        policy needs every executor of an app at once to pick a survivor.
        """
        return f"{self.prefix}executor-events"

    @property
    def commands(self) -> str:
        """Commands for gateway pods (recover X on Y). Keyed by target executor."""
        return f"{self.prefix}commands"

    @property
    def workflow_events(self) -> str:
        """Workflow statuses and steps captured from executors. Keyed ``{app}/{workflow_id}`` so one
        workflow's records stay in order; the workflow table is co-partitioned with it."""
        return f"{self.prefix}workflow-events"

    @property
    def replies(self) -> str:
        """Executors' answers to console requests, keyed by request id (read by the console)."""
        return f"{self.prefix}replies"

    @property
    def audit(self) -> str:
        """The replayable audit log: every recovery decision and operator action. Keyed by app."""
        return f"{self.prefix}audit"

    def specs(self) -> tuple[TopicSpec, ...]:
        """Every topic Baton creates, with partitions and retention."""
        return (
            TopicSpec(name=self.executor_events, partitions=self.partitions, retention_ms=DAY_MS),
            TopicSpec(name=self.commands, partitions=self.partitions, retention_ms=DAY_MS),
            # Kept for `baton replay`: the store's workflow history is a projection of this topic.
            TopicSpec(name=self.workflow_events, partitions=self.partitions, retention_ms=-1),
            TopicSpec(name=self.replies, partitions=self.partitions, retention_ms=HOUR_MS),
            TopicSpec(
                name=self.audit, partitions=self.partitions, retention_ms=-1
            ),  # kept for replay
        )
