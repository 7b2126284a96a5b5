"""The workflow projection on SQLite: latest wins in any order and any batching, replays change
nothing, counts kept in step with the rows, steps replaced by the latest listing, deletions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from store.database import Store, sqlite_url
from store.models import NO_NAME, NO_QUEUE, StepRow
from store.workflow_projection import (
    apply_workflow_events,
    delete_workflows,
    merge_workflow,
    replace_steps,
    workflow_values,
)
from store.workflow_queries import WorkflowFilter, list_steps, list_workflows, workflow_totals
from streams.ids import AppName, WorkflowId
from streams.records import StepInfo, WorkflowDeleted, WorkflowState, WorkflowStatus, WorkflowSteps
from tests.unit.store.workflow_records import T0, counters, recount, stored, upsert, wf


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        yield store


# -- statuses ------------------------------------------------------------------------------------


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


# -- steps and deletions -------------------------------------------------------------------------


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
