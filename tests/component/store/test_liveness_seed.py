"""Liveness seeds from a real SQLite store: the executors it last saw connected, per app, with
their session and the seeding time as their last sighting; nothing else."""

from __future__ import annotations

from pathlib import Path

from recovery.state import AppState, ExecutorRecord, ExecutorState
from store.database import Store, sqlite_url
from store.liveness_seed import liveness_seeds
from store.projection import project_app_state
from streams.ids import AppName, ConnId, ExecutorId, GatewayId
from streams.records import ExecutorInfo


def record(executor: str, state: ExecutorState) -> ExecutorRecord:
    return ExecutorRecord(
        info=ExecutorInfo(executor_id=ExecutorId(executor), application_version="v1", hostname="h"),
        gateway=GatewayId("gw-1"),
        conn_id=ConnId(f"conn-{executor}"),
        state=state,
        connected_at_ms=1_000,
        last_seen_ms=2_000,
        updated_ms=2_000,
        disconnected_at_ms=2_000 if state is not ExecutorState.CONNECTED else None,
    )


async def test_seeds_are_the_connected_executors(tmp_path: Path) -> None:
    shop = AppName("shop")
    live, gone = record("e-live", ExecutorState.CONNECTED), record("e-gone", ExecutorState.DEAD)
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        async with store.sessionmaker.begin() as session:
            executors = {live.executor_id: live, gone.executor_id: gone}
            await project_app_state(session, AppState(app=shop, executors=executors))
        async with store.sessionmaker.begin() as session:
            seeds = await liveness_seeds(session, now_ms=9_000)

    assert list(seeds) == [shop]
    (seeded,) = seeds[shop].executors.values()
    assert seeded.info == live.info
    assert (seeded.gateway, seeded.conn_id) == (live.gateway, live.conn_id)
    assert seeded.state is ExecutorState.CONNECTED
    assert (seeded.connected_at_ms, seeded.updated_ms) == (1_000, 2_000)
    assert seeded.last_seen_ms == 9_000  # every gateway gets a whole liveness timeout
    assert seeds[shop].recoveries == {}
    assert seeds[shop].watermark_ms == 0
