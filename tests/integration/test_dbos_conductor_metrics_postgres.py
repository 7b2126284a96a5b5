"""The DBOS Conductor metric families of ``tests/component/console/test_dbos_conductor_metrics.py``
on PostgreSQL (``BATON_TEST_PG_URL``): the same tests, each on a fresh migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from store.database import Store
from tests.component.console.test_dbos_conductor_metrics import (
    test_the_families_are_absent_without_the_setting,
    test_the_families_are_computed_from_the_store,
    test_the_values_move_when_the_rows_change,
)
from tests.dbos_app.system_db import (
    create_database,
    database_url,
    drop_database,
    unique_database_name,
)

pytestmark = pytest.mark.integration

# The imported tests run here, collected from this module's namespace.
__all__ = [
    "test_the_families_are_absent_without_the_setting",
    "test_the_families_are_computed_from_the_store",
    "test_the_values_move_when_the_rows_change",
]


@pytest.fixture
async def conductor_store() -> AsyncIterator[Store]:
    """A fresh migrated PostgreSQL database; dropped after the test."""
    name = unique_database_name("baton_dbosm")
    create_database(name)
    try:
        url = database_url(name).replace("postgresql://", "postgresql+asyncpg://", 1)
        async with Store(url) as store:
            yield store
    finally:
        drop_database(name)
