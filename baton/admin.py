"""Admin commands over the store: ``baton keys ...``, ``baton tokens ...``, ``baton users ...``,
``baton apps ...``, ``baton executors APP``.

One ``match`` arm per subcommand (the group's is in ``args.<group>_command``), each arm one call.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from baton.data_dir import prepare_data_dir
from baton.settings import Settings
from baton.tables import print_table, when
from baton.users import run_users_command
from console.serialize import executor_json
from store.app_settings import list_app_settings, set_payload_privacy
from store.database import Store
from store.keys import create_key, key_state, list_keys, revoke_key
from store.projection import AppSummary, list_apps, list_executors
from store.roles import Role
from store.tokens import create_token, list_tokens, revoke_token

EXECUTOR_COLUMNS = (
    "executor_id",
    "application_version",
    "hostname",
    "state",
    "last_seen",
    "gateway",
)
KEY_COLUMNS = (
    "key_id",
    "name",
    "state",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
)
APP_COLUMNS = ("app", "payload_privacy", "connected", "changed_at", "changed_by")
_DURATION = re.compile(r"(\d{1,5})([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


async def run_admin(args: argparse.Namespace, settings: Settings) -> int:
    """Run one admin command in one transaction; returns the exit status.

    A ``ValueError`` (an invalid app or token name, a token name taken) is printed, not raised:
    it is the operator's input, and nothing is written.
    """
    prepare_data_dir(settings.data_dir)
    try:
        async with Store(settings.store_url()) as store, store.sessionmaker.begin() as session:
            return await _dispatch(session, args, settings)
    except ValueError as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 2


async def _dispatch(session: AsyncSession, args: argparse.Namespace, settings: Settings) -> int:
    subcommand = getattr(args, f"{args.command}_command", None)
    match args.command, subcommand:
        case "keys", "create":
            return await _create_key(session, args)
        case "keys", "list":
            return await _list_keys(session, args.app)
        case "keys", "revoke":
            return await _revoke_key(session, args.app, args.key_id)
        case "tokens", "create":
            return await _create_token(session, args.name, Role.parse(args.role))
        case "tokens", "list":
            return await _list_tokens(session)
        case "tokens", "revoke":
            return await _revoke_token(session, args.name)
        case "users", _:
            return await run_users_command(session, str(subcommand), args, settings)
        case "apps", "list":
            return await _list_apps(session)
        case "apps", "privacy":
            return await _set_privacy(session, args.app, args.setting == "on")
        case "executors", _:
            return await _list_executors(session, args.app)
        case _:
            raise AssertionError((args.command, subcommand))


async def _create_key(session: AsyncSession, args: argparse.Namespace) -> int:
    expires_at = key_expiry(args.expires_in, args.expires_at, datetime.now(UTC))
    row, plaintext = await create_key(session, args.app, args.name, expires_at=expires_at)
    until = "" if expires_at is None else f", valid until {when(expires_at)}"
    print(f"Created key {row.key_id} for app {args.app}{until}. It is shown once; store it now.")
    print(plaintext)  # the last line: scripts take the key from it
    return 0


async def _list_keys(session: AsyncSession, app: str) -> int:
    now = datetime.now(UTC)
    rows = await list_keys(session, app)
    print_table(
        KEY_COLUMNS,
        [
            (
                r.key_id,
                r.name or "",
                key_state(r, now).value,
                when(r.created_at),
                when(r.expires_at),
                when(r.last_used_at),
                when(r.revoked_at),
            )
            for r in rows
        ],
    )
    return 0


def key_expiry(expires_in: str | None, expires_at: str | None, now: datetime) -> datetime | None:
    """A key's expiry from ``--expires-in`` (``90m``, ``12h``, ``30d``, ``8w``) or
    ``--expires-at`` (ISO 8601; UTC when it names no zone); None when neither is given.

    Raises:
        ValueError: the text is not such a duration or time.
    """
    if expires_in is not None:
        match = _DURATION.fullmatch(expires_in.strip().lower())
        if match is None or int(match[1]) == 0:
            raise ValueError(
                f"invalid --expires-in {expires_in!r}: a positive number and a unit (s, m, h, d "
                "or w), e.g. 90m, 12h, 30d, 8w"
            )
        return now + timedelta(seconds=int(match[1]) * _UNIT_S[match[2]])
    if expires_at is None:
        return None
    try:
        at = datetime.fromisoformat(expires_at.strip())
    except ValueError as exc:
        raise ValueError(
            f"invalid --expires-at {expires_at!r}: an ISO 8601 time, e.g. 2030-01-31T12:00:00Z"
        ) from exc
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def _revoke_key(session: AsyncSession, app: str, key_id: str) -> int:
    if not await revoke_key(session, app, key_id):
        print(f"baton: no active key {key_id} for app {app}")
        return 1
    print(f"Revoked key {key_id}; its sessions close within seconds.")
    return 0


async def _create_token(session: AsyncSession, name: str, role: Role) -> int:
    plaintext = await create_token(session, name, role=role)
    print(
        f"Created {role.value} token {name} (the console's actor token:{name}). "
        "It is shown once; store it now."
    )
    print(plaintext)  # the last line: scripts take the token from it
    return 0


async def _list_tokens(session: AsyncSession) -> int:
    rows = await list_tokens(session)
    print_table(
        ("name", "role", "created_at", "revoked_at"),
        [(r.name, r.role, when(r.created_at), when(r.revoked_at)) for r in rows],
    )
    return 0


async def _revoke_token(session: AsyncSession, name: str) -> int:
    if not await revoke_token(session, name):
        print(f"baton: no active operator token {name}")
        return 1
    print(f"Revoked API token {name}; the console refuses it from now on.")
    return 0


async def _list_apps(session: AsyncSession) -> int:
    settings = {row.app: row for row in await list_app_settings(session)}
    executors: dict[str, AppSummary] = {s.app: s for s in await list_apps(session)}
    rows: list[tuple[object, ...]] = []
    for app in sorted(settings.keys() | executors.keys()):
        setting = settings.get(app)
        summary = executors.get(app)
        rows.append(
            (
                app,
                "on" if setting is not None and setting.payload_privacy else "off",
                0 if summary is None else summary.executors_by_state.get("connected", 0),
                "" if setting is None else when(setting.updated_at),
                "" if setting is None else setting.updated_by,
            )
        )
    print_table(APP_COLUMNS, rows)
    return 0


async def _set_privacy(session: AsyncSession, app: str, on: bool) -> int:
    change = await set_payload_privacy(session, app, on)
    if not on:
        print(
            f"Payload privacy is off for app {app}"
            + ("" if change.changed else " (it was)")
            + ": Baton asks for and keeps its workflows' inputs, outputs and errors again "
            "(those of workflows already finished only when someone views them)."
        )
        return 0
    print(
        f"Payload privacy is on for app {app}" + ("" if change.changed else " (it was)") + ": "
        f"erased the inputs, outputs and errors of {change.workflows_erased} stored workflows "
        f"and {change.steps_erased} steps. Within seconds Baton stops asking its executors for "
        "them; exports, imports and workflow events of the app are refused."
    )
    return 0


async def _list_executors(session: AsyncSession, app: str) -> int:
    executors = [executor_json(r) for r in await list_executors(session, app)]
    print_table(
        EXECUTOR_COLUMNS, [tuple(e.get(c) or "" for c in EXECUTOR_COLUMNS) for e in executors]
    )
    return 0


async def run_replay(settings: Settings) -> int:
    """``baton replay``: rebuild the store from the replayable topics, then print the counts."""
    from baton.replay import replay  # loads aiokafka only for this command

    prepare_data_dir(settings.data_dir)
    async with Store(settings.store_url()) as store:
        counts = await replay(settings.require_kafka(), settings.topics, store)
    print(
        f"Replayed {counts['workflow_events']} workflow events "
        f"({counts['workflows_written']} statuses and {counts['steps_written']} step lists "
        f"written) and {counts['audit_records']} audit records "
        f"({counts['operator_actions']} operator actions)"
        + (f"; skipped {counts['skipped']} undecodable records." if counts["skipped"] else ".")
    )
    return 0
