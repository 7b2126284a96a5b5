"""Apps are isolated at the gateway: a session of app B that claims the executor id of a live
executor of app A neither replaces it nor receives A's commands (issue: one app's key could take
over another app's executor session)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from gateway.server import Gateway
from streams.ids import AppName, CommandId, ExecutorId
from streams.records import (
    CommandProgress,
    CommandStatus,
    ExecutorConnected,
    ExecutorDisconnected,
    RecoverExecutor,
)
from tests.component.gateway.fakes import (
    CommandSender,
    EventLog,
    FakeExecutor,
    KeyBook,
    executor_url,
)
from tests.eventually import eventually

MakeGateway = Callable[..., Gateway]
SHOP, EVIL = "shop", "evil"
VICTIM = "exec-shop-1"


def recover_in(app: str, gateway: Gateway) -> RecoverExecutor:
    return RecoverExecutor(
        command_id=CommandId(f"cmd-{uuid.uuid4().hex[:12]}"),
        app=AppName(app),
        target=ExecutorId(VICTIM),
        target_gateway=gateway.config.gateway_id,
        dead_executor_id=ExecutorId("exec-shop-dead"),
        timeout_ms=5_000,
        issued_at_ms=0,
    )


def connects_of(events: EventLog, app: str) -> list[ExecutorConnected]:
    return [r for r in events.of_type(ExecutorConnected) if r.app == app]


async def test_a_session_of_another_app_claiming_an_executor_id_takes_nothing_over(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog, commands: CommandSender
) -> None:
    _, shop_key = await keys.create(SHOP)
    _, evil_key = await keys.create(EVIL)
    async with (
        make_gateway() as gateway,
        FakeExecutor(executor_url(gateway, SHOP, shop_key), VICTIM) as shop,
    ):
        await eventually(lambda: connects_of(events, SHOP), "shop's executor connects")
        async with FakeExecutor(executor_url(gateway, EVIL, evil_key), VICTIM) as impostor:
            await eventually(lambda: connects_of(events, EVIL), "the impostor connects")
            # shop's session is not superseded, and nothing says it left.
            assert shop.ws.close_code is None
            assert impostor.ws.close_code is None
            assert events.of_type(ExecutorDisconnected) == []

            # shop's command reaches shop's executor, never the impostor.
            command = recover_in(SHOP, gateway)
            await commands.send(command)
            await eventually(
                lambda: [
                    r
                    for r in events.of_type(CommandProgress)
                    if r.command_id == command.command_id and r.status is CommandStatus.SUCCEEDED
                ],
                "shop's command succeeds",
            )
            assert len(shop.requests("recovery")) == 1
            assert impostor.requests("recovery") == []
            progress = [
                r for r in events.of_type(CommandProgress) if r.command_id == command.command_id
            ]
            assert {r.app for r in progress} == {SHOP}

            # And the impostor's app's commands reach the impostor alone.
            evil_command = recover_in(EVIL, gateway)
            await commands.send(evil_command)
            await eventually(lambda: impostor.requests("recovery"), "evil's command arrives")
            assert len(shop.requests("recovery")) == 1
        # The impostor leaving is recorded for its own app only.
        await eventually(lambda: events.of_type(ExecutorDisconnected), "impostor leaves")
        assert {r.app for r in events.of_type(ExecutorDisconnected)} == {EVIL}
        assert shop.ws.close_code is None
