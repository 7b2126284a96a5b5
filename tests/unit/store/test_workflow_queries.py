"""The console's workflow queries on SQLite: filters, sort orders, keyset and offset pages,
counts per status, one workflow, its children, and the queues."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from store.database import Store, sqlite_url
from store.paging import MAX_PAGE_ROWS, SortOrder, encode_cursor
from store.workflow_queries import (
    QueueSummary,
    WorkflowFilter,
    count_by_status,
    get_workflow,
    list_children,
    list_queued,
    list_workflows,
    queue_summaries,
)
from streams.records import WorkflowState
from tests.unit.store.workflow_records import T0, upsert, wf


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        yield store


@pytest.fixture
async def seeded(store: Store) -> Store:
    """30 workflows: ids wf-00..wf-29, created 10 ms apart but in pairs (ties), statuses cycling
    PENDING/SUCCESS/ERROR, two names, two versions, two executors, every third on a queue."""
    statuses = (WorkflowState.PENDING, WorkflowState.SUCCESS, WorkflowState.ERROR)
    await upsert(
        store,
        *(
            wf(
                f"wf-{i:02d}",
                statuses[i % 3],
                created_at_ms=T0 + (i // 2) * 10,
                name=("checkout", "refund")[i % 2],
                application_version=("v1", "v2")[i >= 15],
                executor_id=("e1", "e2")[i % 4 == 0],
                queue_name="q1" if i % 3 == 0 else None,
            )
            for i in range(30)
        ),
        wf("other-app", app="billing"),
    )
    return store


async def ids(store: Store, flt: WorkflowFilter, **kwargs: Any) -> list[str]:
    async with store.sessionmaker() as session:
        page = await list_workflows(session, "orders", flt, limit=100, **kwargs)
    return [row.workflow_id for row in page.rows]


def all_ids(rng: range) -> list[str]:
    return [f"wf-{i:02d}" for i in rng]


async def test_newest_first_then_by_id_descending(seeded: Store) -> None:
    assert await ids(seeded, WorkflowFilter()) == all_ids(range(29, -1, -1))
    assert await ids(seeded, WorkflowFilter(), sort=SortOrder.OLDEST) == all_ids(range(30))


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (WorkflowFilter(statuses=(WorkflowState.ERROR,)), [i for i in range(30) if i % 3 == 2]),
        (
            WorkflowFilter(statuses=(WorkflowState.ERROR, WorkflowState.PENDING)),
            [i for i in range(30) if i % 3 != 1],
        ),
        (WorkflowFilter(statuses=("NOPE",)), []),
        (WorkflowFilter(name="refund"), [i for i in range(30) if i % 2]),
        (WorkflowFilter(workflow_id_prefix="wf-1"), list(range(10, 20))),
        (WorkflowFilter(workflow_id_prefix="wf-2"), list(range(20, 30))),
        (WorkflowFilter(workflow_id_prefix="wf-%"), []),
        (WorkflowFilter(workflow_id_prefix="wf_"), []),
        (WorkflowFilter(workflow_id_prefix="", name="", queue_name=""), list(range(30))),
        (WorkflowFilter(queue_name="q1"), [i for i in range(30) if i % 3 == 0]),
        (WorkflowFilter(application_version="v2"), list(range(15, 30))),
        (WorkflowFilter(executor_id="e2"), [i for i in range(30) if i % 4 == 0]),
        (WorkflowFilter(created_after_ms=T0 + 100), list(range(20, 30))),
        (WorkflowFilter(created_before_ms=T0 + 20), list(range(4))),
        (
            WorkflowFilter(
                statuses=(WorkflowState.PENDING,),
                name="checkout",
                created_after_ms=T0 + 20,
                created_before_ms=T0 + 120,
            ),
            [i for i in range(4, 24) if i % 6 == 0],
        ),
    ],
)
async def test_filters(seeded: Store, flt: WorkflowFilter, expected: list[int]) -> None:
    assert await ids(seeded, flt) == [f"wf-{i:02d}" for i in sorted(expected, reverse=True)]


async def test_prefix_matches_exactly_in_code_point_order(store: Store) -> None:
    names = ["ab", "ab-", "abc", "ab\U0001f600", "ab\uffff", "ac", "a", "aB", "ab%"]
    await upsert(store, *(wf(name) for name in names))
    found = await ids(store, WorkflowFilter(workflow_id_prefix="ab"))
    assert sorted(found) == sorted(n for n in names if n.startswith("ab"))


@pytest.mark.parametrize("sort", list(SortOrder))
@pytest.mark.parametrize("statuses", [(), (WorkflowState.PENDING, WorkflowState.ERROR)])
async def test_cursor_pages_neither_skip_nor_repeat(
    seeded: Store, sort: SortOrder, statuses: tuple[str, ...]
) -> None:
    flt = WorkflowFilter(statuses=statuses)
    expected = await ids(seeded, flt, sort=sort)
    seen: list[str] = []
    cursor = None
    async with seeded.sessionmaker() as session:
        for _ in range(20):
            page = await list_workflows(session, "orders", flt, limit=7, cursor=cursor, sort=sort)
            assert len(page.rows) <= 7
            seen += [row.workflow_id for row in page.rows]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == expected


async def test_offset_pages_and_a_cursor_ignores_the_offset(seeded: Store) -> None:
    async with seeded.sessionmaker() as session:
        first = await list_workflows(session, "orders", WorkflowFilter(), limit=10)
        second = await list_workflows(session, "orders", WorkflowFilter(), limit=10, offset=10)
        by_cursor = await list_workflows(
            session, "orders", WorkflowFilter(), limit=10, offset=25, cursor=first.next_cursor
        )
        last = await list_workflows(session, "orders", WorkflowFilter(), limit=10, offset=20)
    assert [r.workflow_id for r in second.rows] == all_ids(range(19, 9, -1))
    assert [r.workflow_id for r in by_cursor.rows] == all_ids(range(19, 9, -1))
    assert last.next_cursor is None
    assert len(last.rows) == 10


async def test_a_page_sees_workflows_in_its_range_only(seeded: Store) -> None:
    async with seeded.sessionmaker() as session:
        first = await list_workflows(session, "orders", WorkflowFilter(), limit=10)
    await upsert(seeded, wf("wf-99", created_at_ms=T0 + 1_000))  # newer than the first page
    async with seeded.sessionmaker() as session:
        second = await list_workflows(
            session, "orders", WorkflowFilter(), limit=10, cursor=first.next_cursor
        )
    assert [r.workflow_id for r in second.rows] == all_ids(range(19, 9, -1))


async def test_limit_is_clamped(seeded: Store) -> None:
    async with seeded.sessionmaker() as session:
        assert len((await list_workflows(session, "orders", WorkflowFilter(), limit=0)).rows) == 1
        big = await list_workflows(session, "orders", WorkflowFilter(), limit=MAX_PAGE_ROWS * 9)
    assert len(big.rows) == 30


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "bm90IGpzb24",
        encode_cursor(SortOrder.OLDEST, T0, "wf-1"),
        "W10",
        "WyJjcmVhdGVkX2Rlc2MiLCBmYWxzZSwgIiJd",  # ["created_desc", false, ""]: a bool is no time
    ],
)
async def test_malformed_cursor_raises_value_error(seeded: Store, cursor: str) -> None:
    async with seeded.sessionmaker() as session:
        with pytest.raises(ValueError, match="cursor"):
            await list_workflows(session, "orders", WorkflowFilter(), limit=5, cursor=cursor)


async def test_invalid_app_name_raises_value_error(seeded: Store) -> None:
    async with seeded.sessionmaker() as session:
        with pytest.raises(ValueError, match="invalid app name"):
            await list_workflows(session, "no/such", WorkflowFilter(), limit=5)


async def test_counts_ignore_the_status_filter(seeded: Store) -> None:
    by_status = {WorkflowState.PENDING: 10, WorkflowState.SUCCESS: 10, WorkflowState.ERROR: 10}
    async with seeded.sessionmaker() as session:
        everything = await count_by_status(
            session, "orders", WorkflowFilter(statuses=(WorkflowState.ERROR,))
        )
        queued = await count_by_status(session, "orders", WorkflowFilter(queue_name="q1"))
        named = await count_by_status(session, "orders", WorkflowFilter(name="checkout"))
        named_queued = await count_by_status(
            session, "orders", WorkflowFilter(name="checkout", queue_name="q1", executor_id="")
        )
        by_version = await count_by_status(
            session, "orders", WorkflowFilter(application_version="v2")
        )
        recent = await count_by_status(
            session, "orders", WorkflowFilter(created_after_ms=T0 + 100, name="checkout")
        )
        none = await count_by_status(session, "nobody", WorkflowFilter())
    assert everything == by_status
    assert queued == {WorkflowState.PENDING: 10}
    assert named == {WorkflowState.PENDING: 5, WorkflowState.SUCCESS: 5, WorkflowState.ERROR: 5}
    assert named_queued == {WorkflowState.PENDING: 5}
    assert by_version == {
        WorkflowState.PENDING: 5,
        WorkflowState.SUCCESS: 5,
        WorkflowState.ERROR: 5,
    }
    assert recent == {WorkflowState.PENDING: 1, WorkflowState.SUCCESS: 2, WorkflowState.ERROR: 2}
    assert none == {}


async def test_get_workflow(seeded: Store) -> None:
    async with seeded.sessionmaker() as session:
        row = await get_workflow(session, "orders", "wf-03")
        assert await get_workflow(session, "orders", "missing") is None
        assert await get_workflow(session, "billing", "wf-03") is None
    assert row is not None
    assert row.name == "refund"


async def test_children_oldest_first(store: Store) -> None:
    await upsert(
        store,
        wf("parent"),
        wf("child-b", parent_workflow_id="parent", created_at_ms=T0 + 2),
        wf("child-a", parent_workflow_id="parent", created_at_ms=T0 + 1),
        wf("grandchild", parent_workflow_id="child-a"),
        wf("elsewhere", app="billing", parent_workflow_id="parent"),
    )
    async with store.sessionmaker() as session:
        children = await list_children(session, "orders", "parent")
        one = await list_children(session, "orders", "parent", limit=1)
    assert [c.workflow_id for c in children] == ["child-a", "child-b"]
    assert [c.workflow_id for c in one] == ["child-a"]


async def test_queues(store: Store) -> None:
    await upsert(
        store,
        wf("a1", WorkflowState.ENQUEUED, queue_name="alpha", created_at_ms=T0 + 3),
        wf("a2", WorkflowState.ENQUEUED, queue_name="alpha", created_at_ms=T0 + 1),
        wf("a3", WorkflowState.PENDING, queue_name="alpha", created_at_ms=T0 + 2),
        wf("a4", WorkflowState.SUCCESS, queue_name="alpha"),
        wf("b1", WorkflowState.DELAYED, queue_name="beta", created_at_ms=T0 + 4),
        wf("c1", WorkflowState.SUCCESS, queue_name="gamma"),
        wf("n1", WorkflowState.PENDING),
    )
    async with store.sessionmaker() as session:
        summaries = await queue_summaries(session, "orders")
        alpha = await list_queued(session, "orders", queue_name="alpha", limit=10, offset=0)
        every = await list_queued(session, "orders", queue_name=None, limit=10, offset=0)
        paged = await list_queued(session, "orders", queue_name=None, limit=2, offset=1)
    assert summaries == [
        QueueSummary(queue_name="alpha", enqueued=2, pending=1, delayed=0),
        QueueSummary(queue_name="beta", enqueued=0, pending=0, delayed=1),
    ]
    assert [r.workflow_id for r in alpha] == ["a2", "a3", "a1"]
    assert [r.workflow_id for r in every] == ["a2", "a3", "a1", "b1"]
    assert [r.workflow_id for r in paged] == ["a3", "a1"]
