"""The ``store`` readiness check on a real PostgreSQL store: it answers, then its database is
dropped under it and the check says so, without the URL (it may hold a password)."""

from __future__ import annotations

from uuid import uuid4

from store.database import Store
from store.reachability import store_check
from tests.dbos_app.harness import create_database, drop_database


async def test_a_store_that_stops_answering() -> None:
    name = f"baton_r{uuid4().hex[:8]}"
    url = create_database(name)
    try:
        async with Store(url) as store:
            check = store_check(store)
            assert await check() is None

            drop_database(name)  # WITH (FORCE): its connections are closed too
            problem = await check()
    finally:
        drop_database(name)
    assert problem is not None
    assert problem.startswith("the store does not answer: ")
    assert name not in problem
