"""``baton keys``: create with a name and an expiry, list (name, state, times), revoke; bad
expiries are the operator's input errors (exit 2, nothing written). ``baton apps``: payload
privacy switched on (erasing what was stored) and off, audited, and listed per app."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from baton.admin import APP_COLUMNS, key_expiry
from baton.cli import build_parser, dispatch, settings_from
from store.audit import AuditFilter, list_audit
from store.database import Store, sqlite_url
from store.keys import create_key, list_keys, record_key_use, verify_key
from store.models import ApiKey
from store.workflow_projection import upsert_workflows
from store.workflow_queries import get_workflow
from streams.ids import AppName, WorkflowId
from streams.records import WorkflowStatus

NOW = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)


def baton(tmp_path: Path, *argv: str) -> int:
    url = sqlite_url(tmp_path / "baton.db")
    args = build_parser().parse_args([*argv, "--data-dir", str(tmp_path), "--database-url", url])
    return dispatch(args, settings_from(args))


async def stored_keys(tmp_path: Path) -> list[ApiKey]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store, store.sessionmaker() as session:
        return await list_keys(session, "orders")


def table(text: str) -> list[list[str]]:
    return [line.split("  ") for line in text.splitlines()]


def test_create_with_a_name_and_an_expiry_then_list_and_revoke(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = datetime.now(UTC)
    assert baton(tmp_path, "keys", "create", "orders", "--name", "ci", "--expires-in", "30d") == 0
    out = capsys.readouterr().out
    key = out.splitlines()[-1]  # the key is the last line
    [row] = asyncio.run(stored_keys(tmp_path))
    assert row.name == "ci"
    assert row.expires_at is not None
    assert before + timedelta(days=30) <= row.expires_at <= datetime.now(UTC) + timedelta(days=30)
    valid_until = row.expires_at.isoformat(timespec="seconds").replace("+00:00", "Z")
    assert f"Created key {row.key_id} for app orders, valid until {valid_until}." in out
    assert key.startswith(f"bk_{row.key_id}_")

    asyncio.run(use(tmp_path, row.key_id, key))
    assert baton(tmp_path, "keys", "list", "orders") == 0
    header, line = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "key_id",
        "name",
        "state",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    assert line.split() == [
        row.key_id,
        "ci",
        "active",
        row.created_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        valid_until,
        "2030-01-31T12:00:00Z",
    ]
    assert key not in line

    assert baton(tmp_path, "keys", "revoke", "orders", row.key_id) == 0
    capsys.readouterr()
    assert baton(tmp_path, "keys", "list", "orders") == 0
    [_, line] = capsys.readouterr().out.splitlines()
    assert line.split()[2] == "revoked"
    assert line.split()[-1].endswith("Z")


async def use(tmp_path: Path, key_id: str, key: str) -> None:
    url = sqlite_url(tmp_path / "baton.db")
    async with Store(url) as store, store.sessionmaker.begin() as session:
        assert await verify_key(session, "orders", key) == key_id
        await record_key_use(session, key_id, NOW)


def test_an_expiry_at_a_time_and_the_old_label_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert baton(tmp_path, "keys", "create", "orders", "--label", "old flag") == 0
    assert baton(tmp_path, "keys", "create", "orders", "--expires-at", "2100-01-01") == 0
    capsys.readouterr()
    named, expiring = sorted(asyncio.run(stored_keys(tmp_path)), key=lambda k: k.name is None)
    assert (named.name, named.expires_at) == ("old flag", None)
    assert (expiring.name, expiring.expires_at) == (None, datetime(2100, 1, 1, tzinfo=UTC))
    assert baton(tmp_path, "keys", "list", "orders") == 0
    listing = capsys.readouterr().out
    assert "old flag" in listing
    assert "2100-01-01T00:00:00Z" in listing


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--expires-in", "0d"), "invalid --expires-in '0d'"),
        (("--expires-in", "30 days"), "invalid --expires-in '30 days'"),
        (("--expires-in=-1h",), "invalid --expires-in '-1h'"),
        (("--expires-at", "next tuesday"), "invalid --expires-at 'next tuesday'"),
        (("--expires-at", "2001-01-01T00:00:00Z"), "must be a time in the future"),
        (("--name", "two\nlines"), "invalid key name"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: tuple[str, ...], message: str
) -> None:
    assert baton(tmp_path, "keys", "create", "orders", *flags) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
    assert asyncio.run(stored_keys(tmp_path)) == []


def test_expires_in_and_expires_at_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(
            ["keys", "create", "orders", "--expires-in", "1d", "--expires-at", "2100-01-01"]
        )
    assert exited.value.code == 2


@pytest.mark.parametrize(
    ("expires_in", "expires_at", "expected"),
    [
        (None, None, None),
        ("90s", None, NOW + timedelta(seconds=90)),
        ("90m", None, NOW + timedelta(minutes=90)),
        ("12h", None, NOW + timedelta(hours=12)),
        ("30D", None, NOW + timedelta(days=30)),
        (" 8w ", None, NOW + timedelta(weeks=8)),
        (None, "2031-02-03T04:05:06Z", datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)),
        (None, "2031-02-03T05:05:06+01:00", datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)),
        (None, "2031-02-03", datetime(2031, 2, 3, tzinfo=UTC)),
    ],
)
def test_key_expiry(
    expires_in: str | None, expires_at: str | None, expected: datetime | None
) -> None:
    assert key_expiry(expires_in, expires_at, NOW) == expected


# -- baton apps ------------------------------------------------------------------------------------


async def seed_payloads(tmp_path: Path) -> None:
    record = WorkflowStatus(
        app=AppName("orders"),
        workflow_id=WorkflowId("wf-1"),
        status="SUCCESS",
        observed_at_ms=1,
        input='{"card": "4111"}',
        output='"ok"',
        has_input=True,
        has_output=True,
    )
    url = sqlite_url(tmp_path / "baton.db")
    async with Store(url) as store, store.sessionmaker.begin() as session:
        await upsert_workflows(session, [record])
        await create_key(session, "billing")


async def stored_input(tmp_path: Path) -> str | None:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store, store.sessionmaker() as session:
        row = await get_workflow(session, "orders", "wf-1")
        assert row is not None
        return row.input


async def privacy_audit(tmp_path: Path) -> list[tuple[str, str, str]]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store, store.sessionmaker() as session:
        page = await list_audit(session, AuditFilter(action="app."))
        return [(e.action, e.subject, e.actor) for e in reversed(page.entries)]


def test_apps_privacy_on_erases_then_off_and_list_shows_each_apps_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(seed_payloads(tmp_path))
    assert baton(tmp_path, "apps", "privacy", "orders", "on") == 0
    assert capsys.readouterr().out.startswith(
        "Payload privacy is on for app orders: erased the inputs, outputs and errors of 1 "
        "stored workflows and 0 steps."
    )
    assert asyncio.run(stored_input(tmp_path)) is None

    assert baton(tmp_path, "apps", "list") == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split() == list(APP_COLUMNS)
    billing, orders = (line.split() for line in lines)
    assert billing == ["billing", "off", "0"]  # known by its key, never switched
    assert orders[:3] == ["orders", "on", "0"]
    assert orders[3].endswith("Z")
    assert orders[4] == "cli"

    assert baton(tmp_path, "apps", "privacy", "orders", "on") == 0
    assert "(it was)" in capsys.readouterr().out
    assert baton(tmp_path, "apps", "privacy", "orders", "off") == 0
    assert capsys.readouterr().out.startswith("Payload privacy is off for app orders: ")
    assert asyncio.run(privacy_audit(tmp_path)) == [
        ("app.payload_privacy_on", "orders", "cli"),
        ("app.payload_privacy_off", "orders", "cli"),
    ]


def test_apps_privacy_refuses_a_bad_app_name_and_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert baton(tmp_path, "apps", "privacy", "no/such", "on") == 2
    assert "invalid app name" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        baton(tmp_path, "apps", "privacy", "orders", "maybe")
