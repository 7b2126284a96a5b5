"""Workflow projection and queries on SQLite: latest wins in any order, filters, keyset pages,
counts kept in step, queues, children and steps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from store.database import Store, sqlite_url
from store.models import NO_NAME, NO_QUEUE, StepRow, WorkflowCountRow, WorkflowRow
from store.workflows import (
    MAX_PAGE_ROWS,
    QueueSummary,
    SortOrder,
    WorkflowFilter,
    apply_workflow_events,
    count_by_status,
    decode_cursor,
    delete_workflows,
    encode_cursor,
    get_workflow,
    list_children,
    list_queued,
    list_steps,
    list_workflows,
    merge_workflow,
    prefix_successor,
    queue_summaries,
    replace_steps,
    status_from_row,
    upsert_workflows,
    workflow_totals,
    workflow_values,
)
from streams.ids import AppName, WorkflowId
from streams.records import StepInfo, WorkflowDeleted, WorkflowState, WorkflowStatus, WorkflowSteps

T0 = 1_700_000_000_000


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        yield store


def wf(
    workflow_id: str,
    status: str = WorkflowState.PENDING,
    *,
    app: str = "orders",
    updated: int | None = T0,
    observed: int = T0,
    **fields: Any,
) -> WorkflowStatus:
    return WorkflowStatus(
        app=AppName(app),
        workflow_id=WorkflowId(workflow_id),
        status=status,
        updated_at_ms=updated,
        observed_at_ms=observed,
        **{"created_at_ms": T0, **fields},
    )


async def upsert(store: Store, *records: WorkflowStatus) -> int:
    async with store.sessionmaker.begin() as session:
        return await upsert_workflows(session, records)


async def stored(store: Store, app: str = "orders") -> dict[str, WorkflowStatus]:
    async with store.sessionmaker() as session:
        rows = await session.scalars(select(WorkflowRow).where(WorkflowRow.app == app))
        return {row.workflow_id: status_from_row(row) for row in rows}


async def counters(store: Store) -> dict[tuple[str, str, str, str], int]:
    async with store.sessionmaker() as session:
        rows = await session.scalars(select(WorkflowCountRow).where(WorkflowCountRow.n != 0))
        return {(r.app, r.name, r.queue_name, r.status): r.n for r in rows}


async def recount(store: Store) -> dict[tuple[str, str, str, str], int]:
    """The counters as they should be: a GROUP BY over the workflows."""
    w = WorkflowRow
    keys = (
        w.app,
        func.coalesce(w.name, NO_NAME),
        func.coalesce(w.queue_name, NO_QUEUE),
        w.status,
    )
    async with store.sessionmaker() as session:
        result = await session.execute(select(*keys, func.count()).group_by(*keys))
        return {(app, name, queue, status): n for app, name, queue, status, n in result}


# -- projection -----------------------------------------------------------------------------------


def test_every_record_field_has_a_column() -> None:
    workflow_columns = {c.name for c in WorkflowRow.__table__.c} | {"has_input", "has_output"}
    step_columns = {c.name for c in StepRow.__table__.c}
    assert {f.name for f in fields(WorkflowStatus)} <= workflow_columns
    assert {f.name for f in fields(StepInfo)} <= step_columns


async def test_every_field_round_trips(store: Store) -> None:
    record = wf(
        "wf-1",
        WorkflowState.SUCCESS,
        name="checkout",
        class_name="Shop",
        config_name="cfg",
        authenticated_user="alice",
        assumed_role="admin",
        authenticated_roles='["admin"]',
        input='{"args": [1]}',
        output='"done"',
        error=None,
        has_input=True,
        has_output=True,
        completed_at_ms=T0 + 5,
        dequeued_at_ms=T0 + 1,
        queue_name="default",
        queue_partition_key="p",
        deduplication_id="d",
        priority=3,
        application_version="v1",
        executor_id="e1",
        timeout_ms=60_000,
        deadline_epoch_ms=T0 + 60_000,
        delay_until_epoch_ms=T0 + 10,
        forked_from="wf-0",
        was_forked_from=True,
        parent_workflow_id="wf-parent",
        attributes='{"k": "v"}',
        schedule_name="nightly",
    )
    assert await upsert(store, record) == 1
    assert await stored(store) == {"wf-1": record}


async def test_newer_record_wins_and_older_is_ignored(store: Store) -> None:
    first = wf("wf-1", updated=T0, observed=T0 + 1)
    newer = wf("wf-1", WorkflowState.SUCCESS, updated=T0 + 10, observed=T0 + 11)
    assert await upsert(store, first) == 1
    assert await upsert(store, newer) == 1
    assert await upsert(store, first) == 0  # replayed late
    assert (await stored(store))["wf-1"].status == WorkflowState.SUCCESS


async def test_same_updated_at_is_ordered_by_observed_at(store: Store) -> None:
    await upsert(store, wf("wf-1", WorkflowState.ENQUEUED, updated=None, observed=T0 + 5))
    await upsert(store, wf("wf-1", WorkflowState.PENDING, updated=None, observed=T0 + 2))
    assert (await stored(store))["wf-1"].status == WorkflowState.ENQUEUED
    await upsert(store, wf("wf-1", WorkflowState.PENDING, updated=None, observed=T0 + 5))
    assert (await stored(store))["wf-1"].status == WorkflowState.PENDING  # equal: replaces


async def test_status_refresh_keeps_input_and_output(store: Store) -> None:
    full = wf(
        "wf-1",
        WorkflowState.ERROR,
        input="in",
        output=None,
        error="boom",
        has_input=True,
        has_output=True,
    )
    await upsert(store, full)
    refresh = wf("wf-1", WorkflowState.ERROR, updated=T0 + 1, observed=T0 + 1, executor_id="e2")
    assert await upsert(store, refresh) == 1
    row = (await stored(store))["wf-1"]
    assert (row.input, row.error, row.has_input, row.has_output) == ("in", "boom", True, True)
    assert row.executor_id == "e2"


async def test_an_older_record_fills_in_a_missing_input(store: Store) -> None:
    await upsert(store, wf("wf-1", WorkflowState.SUCCESS, updated=T0 + 9, observed=T0 + 9))
    assert await upsert(store, wf("wf-1", input="in", has_input=True)) == 1
    row = (await stored(store))["wf-1"]
    assert (row.status, row.input, row.has_input) == (WorkflowState.SUCCESS, "in", True)


async def test_an_output_is_replaced_only_by_a_newer_one(store: Store) -> None:
    done = wf(
        "wf-1", WorkflowState.SUCCESS, updated=T0 + 9, observed=T0 + 9, output="r", has_output=True
    )
    pending = wf("wf-1", output=None, has_output=True)
    await upsert(store, done)
    assert await upsert(store, pending) == 0
    assert (await stored(store))["wf-1"].output == "r"


async def test_replay_changes_nothing(store: Store) -> None:
    records = [wf(f"wf-{i}", input=str(i), has_input=True) for i in range(5)]
    assert await upsert(store, *records) == 5
    assert await upsert(store, *records) == 0
    assert await upsert(store, *reversed(records), *records) == 0


async def test_records_of_several_apps_in_one_batch(store: Store) -> None:
    assert await upsert(store, wf("wf-1"), wf("wf-1", app="billing"), wf("wf-2")) == 3
    assert set(await stored(store)) == {"wf-1", "wf-2"}
    assert set(await stored(store, "billing")) == {"wf-1"}
    async with store.sessionmaker() as session:
        assert await workflow_totals(session) == {"billing": 1, "orders": 2}


async def test_a_batch_larger_than_a_chunk(store: Store) -> None:
    records = [wf(f"wf-{i:04d}", created_at_ms=T0 + i) for i in range(1_234)]
    assert await upsert(store, *records) == 1_234
    done = [replace(r, status=WorkflowState.SUCCESS, observed_at_ms=T0 + 1) for r in records]
    assert await upsert(store, *done) == 1_234
    assert await counters(store) == {("orders", NO_NAME, NO_QUEUE, WorkflowState.SUCCESS): 1_234}


async def test_unstorable_values_are_cut_or_skipped(store: Store) -> None:
    long_id = wf("x" * 513)
    long_name = wf("wf-1", name="n" * 600, priority=2**70, queue_name="q" * 300)
    assert await upsert(store, long_id, long_name) == 1
    row = (await stored(store))["wf-1"]
    assert len(row.name or "") == 512
    assert len(row.queue_name or "") == 256
    assert row.priority == 2**63 - 1


async def test_missing_created_at_sorts_oldest_and_reads_back_as_none(store: Store) -> None:
    await upsert(store, wf("wf-1", created_at_ms=None), wf("wf-2"))
    assert (await stored(store))["wf-1"].created_at_ms is None
    async with store.sessionmaker() as session:
        page = await list_workflows(session, "orders", WorkflowFilter(), limit=10)
    assert [r.workflow_id for r in page.rows] == ["wf-2", "wf-1"]


async def test_counts_follow_status_and_queue_transitions(store: Store) -> None:
    await upsert(
        store,
        wf("wf-1", WorkflowState.ENQUEUED, queue_name="q1", name="a"),
        wf("wf-2", WorkflowState.ENQUEUED, queue_name="q1", name="a"),
        wf("wf-3", WorkflowState.PENDING),
    )
    await upsert(
        store,
        wf("wf-1", WorkflowState.PENDING, queue_name="q1", name="a", observed=T0 + 1),
        wf("wf-2", WorkflowState.SUCCESS, queue_name="q1", name="a", observed=T0 + 2),
        wf("wf-3", WorkflowState.ERROR, name="b", observed=T0 + 3),
        wf("wf-3", WorkflowState.PENDING, observed=T0),  # older: no change
    )
    assert await counters(store) == await recount(store)
    assert await counters(store) == {
        ("orders", "a", "q1", WorkflowState.PENDING): 1,
        ("orders", "a", "q1", WorkflowState.SUCCESS): 1,
        ("orders", "b", NO_QUEUE, WorkflowState.ERROR): 1,
    }


async def test_concurrent_batches_keep_counts_exact(tmp_path: Path) -> None:
    # Two stores on one file stand in for two workers projecting the same workflows at once.
    url = sqlite_url(tmp_path / "baton.db")
    async with Store(url) as first, Store(url) as second:

        async def project(store: Store, offset: int) -> None:
            for i in range(15):
                status = (WorkflowState.PENDING, WorkflowState.SUCCESS)[(i + offset) % 2]
                batch = [wf(f"wf-{j}", status, observed=T0 + i * 2 + offset) for j in range(20)]
                await upsert(store, *batch)

        await asyncio.gather(project(first, 0), project(second, 1))
        assert await counters(first) == await recount(first)
        assert sum((await counters(first)).values()) == 20


STATUSES = st.sampled_from([s.value for s in WorkflowState])


@st.composite
def record_lists(draw: st.DrawFn) -> list[WorkflowStatus]:
    """Records of a few workflows with distinct observation times; updated_at may tie or be
    missing, and records may or may not carry the input and the output."""
    count = draw(st.integers(min_value=1, max_value=12))
    observed = draw(st.lists(st.integers(0, 1_000), min_size=count, max_size=count, unique=True))
    records = []
    for obs in observed:
        has_input, has_output = draw(st.booleans()), draw(st.booleans())
        records.append(
            wf(
                draw(st.sampled_from(["a", "b", "c"])),
                draw(STATUSES),
                updated=draw(st.one_of(st.none(), st.integers(0, 3))),
                observed=obs,
                queue_name=draw(st.sampled_from([None, "q"])),
                name=draw(st.sampled_from([None, "n"])),
                input=draw(st.text(max_size=3)) if has_input else None,
                has_input=has_input,
                output=draw(st.one_of(st.none(), st.text(max_size=3))) if has_output else None,
                error=draw(st.one_of(st.none(), st.text(max_size=3))) if has_output else None,
                has_output=has_output,
            )
        )
    return records


def expected_fold(records: list[WorkflowStatus]) -> dict[str, WorkflowStatus]:
    """The specification: per workflow, the latest record's fields, with the input of the latest
    record that carried one, and the output and error of the latest that carried them."""

    def version(r: WorkflowStatus) -> tuple[int, int]:
        return (r.updated_at_ms or 0, r.observed_at_ms)

    result: dict[str, WorkflowStatus] = {}
    for workflow_id in {r.workflow_id for r in records}:
        mine = sorted((r for r in records if r.workflow_id == workflow_id), key=version)
        latest = mine[-1]
        inputs = [r for r in mine if r.has_input]
        outputs = [r for r in mine if r.has_output]
        result[workflow_id] = replace(
            latest,
            input=inputs[-1].input if inputs else None,
            has_input=bool(inputs),
            output=outputs[-1].output if outputs else None,
            error=outputs[-1].error if outputs else None,
            has_output=bool(outputs),
        )
    return result


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=record_lists(), data=st.data())
def test_any_order_and_any_batching_gives_the_fold(
    records: list[WorkflowStatus], data: st.DataObject
) -> None:
    replayed = data.draw(st.permutations(records + data.draw(st.lists(st.sampled_from(records)))))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(replayed)), max_size=4)))
    batches = [replayed[a:b] for a, b in zip([0, *cuts], [*cuts, len(replayed)], strict=True)]

    async def scenario() -> None:
        async with Store("sqlite+aiosqlite://") as store:
            for batch in batches:
                await upsert(store, *batch)
            assert await stored(store) == expected_fold(records)
            assert await counters(store) == await recount(store)

    asyncio.run(scenario())


@given(records=record_lists(), data=st.data())
def test_merge_is_order_independent(records: list[WorkflowStatus], data: st.DataObject) -> None:
    def fold(items: list[WorkflowStatus]) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for r in items:
            values = workflow_values(r)
            assert values is not None
            rows[r.workflow_id] = merge_workflow(rows.get(r.workflow_id), values)
        return rows

    assert fold(data.draw(st.permutations(records))) == fold(records)


# -- queries --------------------------------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("prefix", "upper"),
    [("ab", "ac"), ("a\U0010ffff", "b"), ("\U0010ffff", None), ("a\ud7ff", "a\ue000")],
)
def test_prefix_successor(prefix: str, upper: str | None) -> None:
    assert prefix_successor(prefix) == upper


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


def test_cursor_round_trips() -> None:
    cursor = encode_cursor(SortOrder.NEWEST, T0, "wf/ü?&=")
    assert decode_cursor(cursor, SortOrder.NEWEST) == (T0, "wf/ü?&=")


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


# -- steps ----------------------------------------------------------------------------------------


def steps(workflow_id: str, observed: int, *names: str) -> WorkflowSteps:
    return WorkflowSteps(
        app=AppName("orders"),
        workflow_id=WorkflowId(workflow_id),
        steps=tuple(
            StepInfo(function_id=i, function_name=name, output=f"out-{name}", started_at_ms=T0)
            for i, name in enumerate(names, start=1)
        ),
        observed_at_ms=observed,
    )


async def step_names(store: Store, workflow_id: str) -> list[str]:
    async with store.sessionmaker() as session:
        return [s.function_name for s in await list_steps(session, "orders", workflow_id)]


async def test_steps_latest_listing_replaces_the_stored_one(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        await replace_steps(session, [steps("wf-1", T0, "a"), steps("wf-2", T0, "x")])
    async with store.sessionmaker.begin() as session:
        await replace_steps(
            session,
            [steps("wf-1", T0 + 2, "a", "b", "c"), steps("wf-1", T0 + 1, "a", "b")],
        )
    assert await step_names(store, "wf-1") == ["a", "b", "c"]
    async with store.sessionmaker.begin() as session:
        await replace_steps(session, [steps("wf-1", T0 + 1, "a", "b")])  # older: ignored
    assert await step_names(store, "wf-1") == ["a", "b", "c"]
    assert await step_names(store, "wf-2") == ["x"]
    async with store.sessionmaker() as session:
        [first, *_] = await list_steps(session, "orders", "wf-1")
    assert (first.function_id, first.output, first.started_at_ms) == (1, "out-a", T0)


async def test_steps_repeated_function_id_keeps_the_last(store: Store) -> None:
    record = WorkflowSteps(
        app=AppName("orders"),
        workflow_id=WorkflowId("wf-1"),
        steps=(
            StepInfo(function_id=1, function_name="a"),
            StepInfo(function_id=1, function_name="b"),
        ),
        observed_at_ms=T0,
    )
    async with store.sessionmaker.begin() as session:
        await replace_steps(session, [record, record])
    assert await step_names(store, "wf-1") == ["b"]


def deleted(workflow_id: str, *, with_children: bool = False) -> WorkflowDeleted:
    return WorkflowDeleted(
        app=AppName("orders"),
        workflow_id=WorkflowId(workflow_id),
        with_children=with_children,
        deleted_at_ms=T0 + 9_000,
    )


async def test_deleting_forgets_workflows_steps_and_counts(store: Store) -> None:
    await upsert(
        store,
        wf("parent", WorkflowState.SUCCESS, name="p"),
        wf("child", WorkflowState.SUCCESS, name="c", parent_workflow_id="parent"),
        wf("grandchild", WorkflowState.ERROR, name="c", parent_workflow_id="child"),
        wf("other", WorkflowState.SUCCESS, name="p"),
        wf("other-child", WorkflowState.SUCCESS, name="c", parent_workflow_id="other"),
    )
    async with store.sessionmaker.begin() as session:
        await replace_steps(
            session,
            [
                WorkflowSteps(
                    app=AppName("orders"),
                    workflow_id=WorkflowId("parent"),
                    steps=(StepInfo(function_id=1, function_name="s"),),
                    observed_at_ms=T0,
                )
            ],
        )
    async with store.sessionmaker.begin() as session:
        removed = await delete_workflows(
            session, [deleted("parent", with_children=True), deleted("other")]
        )
    assert removed == 4
    assert set(await stored(store)) == {"other-child"}
    assert await counters(store) == await recount(store)
    async with store.sessionmaker() as session:
        assert (await session.scalars(select(StepRow))).all() == []
    # Idempotent: a repeated deletion (a replay, a duplicate record) changes nothing.
    async with store.sessionmaker.begin() as session:
        assert await delete_workflows(session, [deleted("parent", with_children=True)]) == 0
    assert await counters(store) == await recount(store)


async def test_a_batch_applies_deletions_after_statuses(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        await apply_workflow_events(
            session, [wf("gone", WorkflowState.SUCCESS)], [], [deleted("gone")]
        )
    assert await stored(store) == {}
