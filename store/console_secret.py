"""The secret every console process of a deployment shares: it signs session and CSRF cookies.

Made on first use and kept in the store, so consoles behind one load balancer accept each other's
cookies and a restart keeps everyone signed in. Must not import the gateway or the console.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import ConsoleSecret
from store.projection import upsert_for

COOKIE_SIGNING = "cookie-signing"
_SECRETS: Table = ConsoleSecret.__table__  # type: ignore[assignment]


async def cookie_secret(session: AsyncSession) -> str:
    """The cookie-signing secret, made now if there is none (insert-or-skip: of two consoles
    starting at once, both read the one that won)."""
    stmt = upsert_for(session, _SECRETS).on_conflict_do_nothing(index_elements=["name"])
    await session.execute(stmt.values(name=COOKIE_SIGNING, value=secrets.token_urlsafe(48)))
    value = await session.scalar(
        select(ConsoleSecret.value).where(ConsoleSecret.name == COOKIE_SIGNING)
    )
    assert value is not None
    return value
