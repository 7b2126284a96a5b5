"""Which executors of an app the console may ask: the connected ones, most recently seen first.

One rule for live lookups (``management.kafka_channel``) and actions (``management.actions``). The
store's view lags the gateways by a second or two, which is why callers retry on the next executor.
"""

from __future__ import annotations

from dataclasses import dataclass

from recovery.state import ExecutorState
from store.database import Store
from store.projection import list_executors
from streams.ids import AppName, ExecutorId, GatewayId


@dataclass(frozen=True, slots=True)
class Target:
    """A connected executor, the gateway pod holding it, and its application version."""

    executor_id: ExecutorId
    gateway: GatewayId
    version: str


async def connected_executors(store: Store, app: AppName) -> list[Target]:
    """The app's connected executors, most recently seen first (ties: by executor id)."""
    async with store.sessionmaker.begin() as session:
        rows = await list_executors(session, app)
    live = sorted(
        (row for row in rows if row.state == ExecutorState.CONNECTED),
        key=lambda row: row.seen_at,
        reverse=True,
    )
    return [
        Target(ExecutorId(row.executor_id), GatewayId(row.gateway), row.application_version)
        for row in live
    ]
