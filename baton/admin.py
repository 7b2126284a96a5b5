"""Admin commands over the store: ``baton keys ...`` and ``baton executors APP``."""

from __future__ import annotations

import argparse

from baton.settings import Settings
from console.serialize import executor_json
from store.database import Store
from store.keys import create_key, list_keys, revoke_key
from store.projection import list_executors

EXECUTOR_COLUMNS = (
    "executor_id",
    "application_version",
    "hostname",
    "state",
    "last_seen",
    "gateway",
)


async def run_admin(args: argparse.Namespace, settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with Store(settings.store_url()) as store, store.sessionmaker.begin() as session:
        match args.command, getattr(args, "keys_command", None):
            case "keys", "create":
                row, plaintext = await create_key(session, args.app, args.label)
                print(
                    f"Created key {row.key_id} for app {args.app}. It is shown once; store it now."
                )
                print(plaintext)
            case "keys", "list":
                rows = await list_keys(session, args.app)
                print_table(
                    ("key_id", "created_at", "revoked_at", "label"),
                    [(r.key_id, r.created_at, r.revoked_at or "", r.label or "") for r in rows],
                )
            case "keys", "revoke":
                if not await revoke_key(session, args.app, args.key_id):
                    print(f"baton: no active key {args.key_id} for app {args.app}")
                    return 1
                print(f"Revoked key {args.key_id}; its sessions close within seconds.")
            case "executors", _:
                executors = [executor_json(r) for r in await list_executors(session, args.app)]
                print_table(
                    EXECUTOR_COLUMNS,
                    [tuple(e.get(c) or "" for c in EXECUTOR_COLUMNS) for e in executors],
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
        f"written) and {counts['audit_records']} audit records"
        + (f"; skipped {counts['skipped']} undecodable records." if counts["skipped"] else ".")
    )
    return 0
