"""``baton workflows ...`` and ``baton audit`` against a console served on a real port (executors
played by ``FakeChannel``): what they print, their exit codes, and the bulk job's progress."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from baton.cli import build_parser
from baton.remote import ConsoleUnreachable, run_remote
from console.server import run_console
from store.database import Store
from tests.component.console.channel import FakeChannel
from tests.console_access import TEST_ACCESS, token_for


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def console_url(seeded_store: Store, channel: FakeChannel) -> AsyncIterator[str]:
    port = _free_port()
    stop = asyncio.Event()
    server = asyncio.create_task(
        run_console(
            seeded_store,
            "127.0.0.1",
            port,
            access=TEST_ACCESS,
            stop=stop,
            channel=channel,
            action_timeout_s=0.5,
        )
    )
    url = f"http://127.0.0.1:{port}"
    _signed_in["token"] = await token_for(seeded_store)
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            with contextlib.suppress(httpx.ConnectError):
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.05)
    yield url
    stop.set()
    await asyncio.wait_for(server, timeout=10)


@pytest.fixture
def channel() -> FakeChannel:
    return FakeChannel()


_signed_in: dict[str, str] = {}
"""The test console's admin token (``console_url`` makes it): what ``BATON_TOKEN`` would give."""


async def baton(*argv: str, token: str | None = None) -> int:
    """Run a ``baton`` remote command in a thread (its HTTP client blocks), with the test
    console's token unless one is given."""
    args = build_parser().parse_args(list(argv))
    chosen = token or _signed_in.get("token")
    return await asyncio.to_thread(run_remote, args, "http://127.0.0.1:1", chosen)


async def test_cancel_prints_the_outcome(
    console_url: str, channel: FakeChannel, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await baton("workflows", "cancel", "orders", "wf-001", "--console", console_url)
    assert code == 0
    assert capsys.readouterr().out.strip() == "workflow.cancel wf-001: succeeded (executor e1)"
    assert channel.statuses["wf-001"] == "CANCELLED"


async def test_fork_prints_the_new_workflow(
    console_url: str, channel: FakeChannel, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await baton(
        "workflows", "fork", "orders", "wf-001", "--start-step", "3", "--console", console_url
    )
    assert code == 0
    [new_id] = channel.forks
    assert f"new workflow: {new_id}" in capsys.readouterr().out


async def test_rewind_sends_its_options_and_a_501_says_which_client_lacks_it(
    console_url: str, channel: FakeChannel, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await baton(
        "workflows", "rewind", "orders", "wf-002", "--start-step", "2", "--queue", "q",
        "--console", console_url,
    )  # fmt: skip
    assert code == 0
    assert capsys.readouterr().out.strip() == "workflow.rewind wf-002: succeeded (executor e1)"
    assert dict(channel.requests[-1].params) == {"start_step": 2, "queue_name": "q"}
    channel.behaviour["e1"] = "unsupported"
    refused = await baton("workflows", "rewind", "orders", "wf-002", "--console", console_url)
    assert refused == 1
    assert capsys.readouterr().err.strip() == (
        "baton: rewind failed (501): the Java client 1.1.0-m6 of executor e1 does not support it"
    )


async def test_a_failed_action_exits_non_zero_with_the_reason(
    console_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await baton("workflows", "resume", "payments", "wf-9", "--console", console_url)
    assert code == 1
    err = capsys.readouterr().err
    assert "resume failed (503)" in err
    assert "no executor of app payments is connected" in err


async def test_bulk_previews_then_shows_progress(
    console_url: str, channel: FakeChannel, capsys: pytest.CaptureFixture[str]
) -> None:
    preview = await baton(
        "workflows", "bulk", "orders", "cancel", "--name", "bulk", "--dry-run",
        "--console", console_url,
    )  # fmt: skip
    assert preview == 0
    assert capsys.readouterr().out.strip() == "30 workflows match"
    assert channel.requests == []
    code = await baton(
        "workflows", "bulk", "orders", "cancel", "--name", "bulk", "--console", console_url
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "30 workflows" in captured.err
    assert "succeeded (30 succeeded, 0 failed)" in captured.out


async def test_audit_lists_the_actions(
    console_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await baton("workflows", "delete", "orders", "wf-002", "--console", console_url)
    capsys.readouterr()
    code = await baton("audit", "--app", "orders", "--console", console_url)
    assert code == 0
    [line] = capsys.readouterr().out.strip().splitlines()
    assert "orders  token:tester  workflow.delete  wf-002  succeeded" in line


async def test_an_unreachable_console_says_what_to_do() -> None:
    with pytest.raises(ConsoleUnreachable, match="is Baton running"):
        await baton("workflows", "cancel", "orders", "wf-1", "--console", "http://127.0.0.1:1")
