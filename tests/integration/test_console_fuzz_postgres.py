"""The console's API fuzzing (``tests/component/console/test_api_fuzz.py``) over a PostgreSQL store.

PostgreSQL refuses what SQLite takes (NUL in text, out-of-range integers, odd collations), so a
bad parameter that the SQLite run answers cleanly may be a 500 here. The tests are the SQLite
module's own, imported: every operation fuzzed against its document, and the hostile-parameter
tests, with the same assertions (no 5xx, every 4xx is JSON ``{"error": "<message>"}``).

One throwaway database per module on the test PostgreSQL (``BATON_TEST_PG_URL``, user
``postgres``, trust auth), migrated and seeded once by ``seeded_database`` and dropped after the
module. The tests only read, so each Schemathesis lifespan just opens a store on it, on
Schemathesis's loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from schemathesis.specs.openapi.schemas import OpenApiSchema

from store.database import Store
from tests.component.console.seed import seed
from tests.component.console.test_api_fuzz import (
    conformance_test,
    console_schema,
    test_a_hostile_queued_parameter_is_listed_or_named,
    test_a_hostile_workflow_parameter_is_listed_or_named,
    test_a_limit_or_offset_outside_its_documented_range_is_named,
    test_a_limit_or_offset_that_is_no_integer_is_named,
    test_a_value_outside_its_documented_enum_is_named,
    test_hostile_path_parameters_get_a_clear_answer,
    test_hostile_queued_queries_get_a_clear_answer,
    test_hostile_workflow_queries_get_a_clear_answer,
    test_nul_in_a_text_parameter_is_a_bad_parameter,
    test_nul_in_a_workflow_id_or_its_cursor_is_a_bad_parameter,
    test_the_largest_documented_offset_is_accepted,
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
    "test_a_hostile_queued_parameter_is_listed_or_named",
    "test_a_hostile_workflow_parameter_is_listed_or_named",
    "test_a_limit_or_offset_outside_its_documented_range_is_named",
    "test_a_limit_or_offset_that_is_no_integer_is_named",
    "test_a_value_outside_its_documented_enum_is_named",
    "test_every_operation_conforms_to_its_document",
    "test_hostile_path_parameters_get_a_clear_answer",
    "test_hostile_queued_queries_get_a_clear_answer",
    "test_hostile_workflow_queries_get_a_clear_answer",
    "test_nul_in_a_text_parameter_is_a_bad_parameter",
    "test_nul_in_a_workflow_id_or_its_cursor_is_a_bad_parameter",
    "test_the_largest_documented_offset_is_accepted",
]

DATABASE = unique_database_name("baton_fuzz")
STORE_URL = database_url(DATABASE).replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture(scope="module", autouse=True)
async def seeded_database() -> AsyncIterator[str]:
    """Create, migrate and seed the module's database; drop it after the module."""
    create_database(DATABASE)
    try:
        async with Store(STORE_URL) as store:
            await seed(store)
        yield STORE_URL
    finally:
        drop_database(DATABASE)


schema = console_schema(lambda: Store(STORE_URL))


@pytest.fixture(scope="module")
def fuzz_schema() -> OpenApiSchema:
    """The PostgreSQL-backed schema, for the imported hypothesis tests."""
    return schema


test_every_operation_conforms_to_its_document = conformance_test(schema)
