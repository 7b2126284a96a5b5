"""``baton users ...``: the console's users, over the store (like ``baton keys``, it works while
``baton up`` runs). A password or sign-in link is printed once, on the last line."""

from __future__ import annotations

import argparse

from sqlalchemy.ext.asyncio import AsyncSession

from baton.settings import Settings
from baton.tables import print_table, when
from store.roles import Role
from store.users import (
    create_signin_code,
    create_user,
    delete_user,
    list_users,
    set_password,
    set_role,
)


async def run_users_command(
    session: AsyncSession, subcommand: str, args: argparse.Namespace, settings: Settings
) -> int:
    """Run ``baton users SUBCOMMAND``; a ``ValueError`` is the operator's input (printed by the
    caller, nothing written)."""
    match subcommand:
        case "create":
            return await _create(session, args.name, Role.parse(args.role))
        case "list":
            return await _list(session)
        case "role":
            await set_role(session, args.name, Role.parse(args.role))
            print(f"{args.name} is now {Role.parse(args.role).value}.")
            return 0
        case "password":
            return await _password(session, args.name)
        case "link":
            return await _link(session, args.name, settings)
        case "delete":
            return await _delete(session, args.name)
        case _:
            raise AssertionError(subcommand)


async def _create(session: AsyncSession, name: str, role: Role) -> int:
    password = await create_user(session, name, role)
    print(f"Created {role.value} {name} (the console's actor user:{name}).")
    print("Their password is shown once; pass it on now:")
    print(password)
    return 0


async def _list(session: AsyncSession) -> int:
    rows = await list_users(session)
    print_table(
        ("name", "role", "password", "created_at"),
        [(r.name, r.role, "set" if r.password_hash else "none", when(r.created_at)) for r in rows],
    )
    return 0


async def _password(session: AsyncSession, name: str) -> int:
    password = await set_password(session, name)
    print(f"New password of {name} (their sessions ended); it is shown once:")
    print(password)
    return 0


async def _link(session: AsyncSession, name: str, settings: Settings) -> int:
    code = await create_signin_code(session, name)
    host = settings.console_host if settings.console_host not in ("0.0.0.0", "::") else "127.0.0.1"
    print(f"One-time sign-in link for {name}, valid 24 hours:")
    print(f"http://{host}:{settings.console_port}/signin?code={code}")
    return 0


async def _delete(session: AsyncSession, name: str) -> int:
    if not await delete_user(session, name):
        print(f"baton: no user {name}")
        return 1
    print(f"Deleted user {name}; their sessions ended.")
    return 0
