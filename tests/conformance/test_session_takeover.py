"""Apps are isolated (issue 10's takeover): a client holding a valid key of app ``evil`` connects
and answers ``executor_info`` with the executor id of a live, real DBOS executor of app ``shop``.
``shop``'s executor stays connected, its commands (capture polls, a cancel) still reach it alone,
and what the impostor answers is recorded for ``evil`` only."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from runtime.clock import wall_ms
from tests.baton_cluster import BatonCluster
from tests.conformance.scenario import ExecutorPool
from tests.conformance.test_management import (
    act_ok,
    assert_stays,
    console_statuses,
    dbos_status,
    wait_captured,
)
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance

STOLEN = "stolen-wf"
"""The workflow the impostor claims to have: it must never be shown as ``shop``'s."""


class Impostor:
    """A raw WebSocket client of app ``evil`` that claims another executor's id and answers every
    ``list_workflows`` with a made-up workflow; it records every request it receives."""

    def __init__(self, url: str, claimed_executor_id: str) -> None:
        self.url = url
        self.claimed = claimed_executor_id
        self.received: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Impostor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def kinds(self) -> set[str]:
        return {str(m.get("type")) for m in self.received}

    async def _run(self) -> None:
        async with connect(self.url, open_timeout=10) as ws:
            reader = asyncio.create_task(self._answer_all(ws))
            await asyncio.to_thread(self._stop.wait)
            reader.cancel()
            self.close_code = ws.close_code

    async def _answer_all(self, ws: Any) -> None:
        try:
            async for text in ws:
                message = orjson.loads(text)
                self.received.append(message)
                answer = self._answer(message)
                if answer is not None:
                    await ws.send(orjson.dumps(answer).decode())
        except ConnectionClosed:
            return

    def _answer(self, message: dict[str, Any]) -> dict[str, Any] | None:
        base = {"type": message["type"], "request_id": message["request_id"]}
        match message["type"]:
            case "executor_info":
                return {
                    **base,
                    "executor_id": self.claimed,
                    "application_version": "v1",
                    "hostname": "impostor",
                    "language": "python",
                    "dbos_version": "2.31.1",
                }
            case "list_workflows":
                now = str(wall_ms())
                stolen = {
                    "WorkflowUUID": STOLEN,
                    "Status": "SUCCESS",
                    "WorkflowName": "stolen",
                    "CreatedAt": now,
                    "UpdatedAt": now,
                    "CompletedAt": now,
                    "ExecutorID": self.claimed,
                    "ApplicationVersion": "v1",
                }
                return {**base, "output": [stolen], "error_message": None}
        return None


def test_another_apps_key_cannot_take_over_a_live_executor(
    cluster: BatonCluster, pool: ExecutorPool
) -> None:
    (shop_executor,) = pool.start_connected(1)
    shop, victim = pool.app, shop_executor.executor_id
    before = cluster.executors(shop)[victim]
    evil = f"evil{uuid.uuid4().hex[:8]}"
    evil_key = cluster.create_key(evil)

    with Impostor(f"{cluster.conductor_url}/websocket/{evil}/{evil_key}", victim) as impostor:
        # The impostor is admitted, as an executor of its own app.
        assert_eventually(
            lambda: cluster.executors(evil).get(victim, {}).get("state") == "connected",
            timeout_s=30,
            message="the impostor is listed in its own app",
        )
        wait_captured(cluster, evil, STOLEN, "SUCCESS")  # what it answers is evil's

        # shop's executor keeps its session (same connection, still connected) over heartbeats.
        def shop_unchanged() -> bool:
            row = cluster.executors(shop)[victim]
            return bool(
                row["state"] == "connected"
                and row["connected_at"] == before["connected_at"]
                and row["hostname"] == before["hostname"] != "impostor"
            )

        assert_stays(shop_unchanged, for_s=5.0, message="shop's executor keeps its session")

        # shop's capture polls still reach the real executor...
        shop_executor.start_workflow("multi_step", "wf-after", n=2, step_seconds=0.1)
        wait_captured(cluster, shop, "wf-after", "SUCCESS")
        # ...and a console action on shop is carried out by it.
        shop_executor.start_workflow("multi_step", "wf-long", n=20, step_seconds=1.0)
        wait_captured(cluster, shop, "wf-long", "PENDING")
        cancelled = act_ok(cluster, shop, "wf-long", "cancel")
        assert cancelled["executor_id"] == victim
        assert dbos_status(shop_executor, "wf-long") == "CANCELLED"

        # Nothing the impostor said is shop's, and shop's cancel never went to it.
        assert STOLEN not in console_statuses(cluster, shop)
        assert "cancel" not in impostor.kinds()
        assert impostor.close_code is None
        assert shop_unchanged()
