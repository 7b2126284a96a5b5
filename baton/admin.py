"""Admin commands over the store: ``baton keys ...``, ``baton tokens ...``, ``baton executors APP``.

One ``match`` arm per subcommand (the group's is in ``args.<group>_command``), each arm one call.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.ext.asyncio import AsyncSession

from baton.settings import Settings
from console.serialize import executor_json
from store.database import Store
from store.keys import create_key, list_keys, revoke_key
from store.projection import list_executors
from store.tokens import create_token, list_tokens, revoke_token

EXECUTOR_COLUMNS = (
    "executor_id",
    "application_version",
    "hostname",
    "state",
    "last_seen",
    "gateway",
)


async def run_admin(args: argparse.Namespace, settings: Settings) -> int:
    """Run one admin command in one transaction; returns the exit status.

    A ``ValueError`` (an invalid app or token name, a token name taken) is printed, not raised:
    it is the operator's input, and nothing is written.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        async with Store(settings.store_url()) as store, store.sessionmaker.begin() as session:
            return await _dispatch(session, args)
    except ValueError as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 2


async def _dispatch(session: AsyncSession, args: argparse.Namespace) -> int:
    subcommand = getattr(args, f"{args.command}_command", None)
    match args.command, subcommand:
        case "keys", "create":
            return await _create_key(session, args.app, args.label)
        case "keys", "list":
            return await _list_keys(session, args.app)
        case "keys", "revoke":
            return await _revoke_key(session, args.app, args.key_id)
        case "tokens", "create":
            return await _create_token(session, args.name)
        case "tokens", "list":
            return await _list_tokens(session)
        case "tokens", "revoke":
            return await _revoke_token(session, args.name)
        case "executors", _:
            return await _list_executors(session, args.app)
        case _:
            raise AssertionError((args.command, subcommand))


async def _create_key(session: AsyncSession, app: str, label: str | None) -> int:
    row, plaintext = await create_key(session, app, label)
    print(f"Created key {row.key_id} for app {app}. It is shown once; store it now.")
    print(plaintext)
    return 0


async def _list_keys(session: AsyncSession, app: str) -> int:
    rows = await list_keys(session, app)
    print_table(
        ("key_id", "created_at", "revoked_at", "label"),
        [(r.key_id, r.created_at, r.revoked_at or "", r.label or "") for r in rows],
    )
    return 0


async def _revoke_key(session: AsyncSession, app: str, key_id: str) -> int:
    if not await revoke_key(session, app, key_id):
        print(f"baton: no active key {key_id} for app {app}")
        return 1
    print(f"Revoked key {key_id}; its sessions close within seconds.")
    return 0


async def _create_token(session: AsyncSession, name: str) -> int:
    plaintext = await create_token(session, name)
    print(
        f"Created operator token {name} (the console's actor token:{name}). "
        "It is shown once; store it now."
    )
    print(plaintext)  # the last line: scripts take the token from it
    return 0


async def _list_tokens(session: AsyncSession) -> int:
    rows = await list_tokens(session)
    print_table(
        ("name", "created_at", "revoked_at"),
        [(r.name, r.created_at, r.revoked_at or "") for r in rows],
    )
    return 0


async def _revoke_token(session: AsyncSession, name: str) -> int:
    if not await revoke_token(session, name):
        print(f"baton: no active operator token {name}")
        return 1
    print(f"Revoked operator token {name}; the console refuses it from now on.")
    return 0


async def _list_executors(session: AsyncSession, app: str) -> int:
    executors = [executor_json(r) for r in await list_executors(session, app)]
    print_table(
        EXECUTOR_COLUMNS, [tuple(e.get(c) or "" for c in EXECUTOR_COLUMNS) for e in executors]
    )
    return 0


def print_table(headers: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    cells = [tuple(str(c) for c in headers), *[tuple(str(c) for c in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


async def run_replay(settings: Settings) -> int:
    """``baton replay``: rebuild the store from the replayable topics, then print the counts."""
    from baton.replay import replay  # loads aiokafka only for this command

    settings.data_dir.mkdir(parents=True, exist_ok=True)
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
