"""Bulk jobs on a real SQLite file: creation, pending items in order, outcomes and counters kept
together and idempotent, finishing, listing, stale jobs, and a job of 10,000 workflows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.bulk_jobs import (
    INTERRUPTED_ERROR,
    ItemOutcome,
    ItemState,
    JobState,
    NewBulkJob,
    create_job,
    final_state,
    finish_job,
    get_job,
    interrupt_stale_jobs,
    list_job_items,
    list_jobs,
    pending_items,
    record_outcomes,
)
from store.database import Store, sqlite_url
from store.models import BulkJobItemRow, BulkJobRow

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        yield store


def new_job(
    job_id: str = "job-1", *, app: str = "orders", created_at: datetime = NOW
) -> NewBulkJob:
    return NewBulkJob(
        job_id=job_id,
        app=app,
        action="cancel",
        actor="token:alice",
        params={"cancel_children": False},
        selection={"filter": {"status": ["PENDING"]}},
        created_at=created_at,
    )


async def create(store: Store, workflow_ids: list[str], job: NewBulkJob | None = None) -> None:
    async with store.sessionmaker.begin() as session:
        await create_job(session, job or new_job(), workflow_ids)


async def record(store: Store, *outcomes: ItemOutcome, job_id: str = "job-1") -> BulkJobRow:
    async with store.sessionmaker.begin() as session:
        return await record_outcomes(session, job_id, outcomes, now=NOW + timedelta(seconds=1))


async def job(store: Store, job_id: str = "job-1", app: str = "orders") -> BulkJobRow | None:
    async with store.sessionmaker() as session:
        return await get_job(session, app, job_id)


async def pending(store: Store, limit: int = 100, job_id: str = "job-1") -> list[str]:
    async with store.sessionmaker() as session:
        return await pending_items(session, job_id, limit)


def ok(workflow_id: str, new_workflow_id: str | None = None) -> ItemOutcome:
    return ItemOutcome(workflow_id=workflow_id, succeeded=True, new_workflow_id=new_workflow_id)


def failed(workflow_id: str, error: str = "boom") -> ItemOutcome:
    return ItemOutcome(workflow_id=workflow_id, succeeded=False, error=error)


def counters(row: BulkJobRow | None) -> tuple[str, int, int, int, int]:
    assert row is not None
    return (row.state, row.total, row.done, row.succeeded, row.failed)


# -- creation and pending items --------------------------------------------------------------------


async def test_a_new_job_runs_with_every_item_pending_in_order(store: Store) -> None:
    await create(store, ["w3", "w1", "w2", "w1"])  # a repeated id is kept once, first place
    row = await job(store)
    assert counters(row) == ("running", 3, 0, 0, 0)
    assert row is not None
    assert (row.action, row.actor, row.params, row.selection) == (
        "cancel",
        "token:alice",
        {"cancel_children": False},
        {"filter": {"status": ["PENDING"]}},
    )
    assert row.created_at == row.updated_at == NOW
    assert (row.finished_at, row.error) == (None, None)
    assert await pending(store) == ["w3", "w1", "w2"]
    assert await pending(store, limit=2) == ["w3", "w1"]
    async with store.sessionmaker() as session:
        items = await list_job_items(session, "job-1")
    assert [(i.workflow_id, i.position, i.outcome, i.updated_at) for i in items] == [
        ("w3", 0, "pending", None),
        ("w1", 1, "pending", None),
        ("w2", 2, "pending", None),
    ]


async def test_an_empty_job(store: Store) -> None:
    await create(store, [])
    assert counters(await job(store)) == ("running", 0, 0, 0, 0)
    assert await pending(store) == []


@pytest.mark.parametrize(
    ("job_id", "workflow_ids", "message"),
    [
        ("", ["w1"], "1 to 64 characters"),
        ("j" * 65, ["w1"], "1 to 64 characters"),
        ("job-1", ["w" * 513], "longer than 512"),
    ],
)
async def test_invalid_jobs_are_refused(
    store: Store, job_id: str, workflow_ids: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await create(store, workflow_ids, new_job(job_id))


async def test_an_invalid_app_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="invalid app name"):
        await create(store, ["w1"], new_job(app="a/b"))


# -- outcomes --------------------------------------------------------------------------------------


async def test_outcomes_move_items_and_counters_together(store: Store) -> None:
    await create(store, ["w1", "w2", "w3"])
    row = await record(store, ok("w1", new_workflow_id="w1-fork"), failed("w2"))
    assert counters(row) == ("running", 3, 2, 1, 1)
    assert row.updated_at == NOW + timedelta(seconds=1)
    assert await pending(store) == ["w3"]
    async with store.sessionmaker() as session:
        items = {i.workflow_id: i for i in await list_job_items(session, "job-1")}
    assert (items["w1"].outcome, items["w1"].new_workflow_id, items["w1"].error) == (
        "succeeded",
        "w1-fork",
        None,
    )
    assert (items["w2"].outcome, items["w2"].error) == ("failed", "boom")
    assert items["w2"].updated_at == NOW + timedelta(seconds=1)
    assert (items["w3"].outcome, items["w3"].updated_at) == ("pending", None)


async def test_recording_the_same_outcomes_again_changes_nothing(store: Store) -> None:
    await create(store, ["w1", "w2", "w3"])
    batch = (ok("w1"), failed("w2"))
    first = counters(await record(store, *batch))
    assert counters(await record(store, *batch)) == first
    assert counters(await record(store, *batch, *batch)) == first


async def test_a_retried_item_moves_between_counters(store: Store) -> None:
    await create(store, ["w1", "w2"])
    await record(store, failed("w1"), failed("w2"))
    assert counters(await record(store, ok("w1"))) == ("running", 2, 2, 1, 1)
    assert counters(await record(store, failed("w1", "again"))) == ("running", 2, 2, 0, 2)
    async with store.sessionmaker() as session:
        [first, _] = await list_job_items(session, "job-1")
    assert (first.outcome, first.error) == ("failed", "again")


async def test_the_last_outcome_of_an_item_in_a_batch_wins(store: Store) -> None:
    await create(store, ["w1"])
    assert counters(await record(store, failed("w1"), ok("w1"))) == ("running", 1, 1, 1, 0)


async def test_outcomes_for_unknown_workflows_or_jobs_are_refused(store: Store) -> None:
    await create(store, ["w1"])
    with pytest.raises(ValueError, match="1 workflow"):
        await record(store, ok("w1"), ok("nope"))
    assert counters(await job(store)) == ("running", 1, 0, 0, 0)  # the batch rolled back
    with pytest.raises(LookupError, match="no bulk job"):
        await record(store, ok("w1"), job_id="job-2")


async def test_an_error_is_bounded(store: Store) -> None:
    await create(store, ["w1"])
    await record(store, failed("w1", "x" * 100_000))
    async with store.sessionmaker() as session:
        [item] = await list_job_items(session, "job-1")
    assert item.error is not None
    assert len(item.error) <= 4096


# -- the end of a job ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcomes", "state"),
    [
        ((ok("w1"), ok("w2")), JobState.SUCCEEDED),
        ((failed("w1"), failed("w2")), JobState.FAILED),
        ((ok("w1"), failed("w2")), JobState.PARTIAL),
        ((ok("w1"),), JobState.PARTIAL),  # stopped half-way
        ((), JobState.FAILED),
    ],
)
async def test_final_state_follows_the_counters(
    store: Store, outcomes: tuple[ItemOutcome, ...], state: JobState
) -> None:
    await create(store, ["w1", "w2"])
    row = await record(store, *outcomes)
    assert final_state(row) is state


async def test_final_state_of_an_empty_job_is_succeeded(store: Store) -> None:
    await create(store, [])
    row = await job(store)
    assert row is not None
    assert final_state(row) is JobState.SUCCEEDED


async def test_finish_job(store: Store) -> None:
    await create(store, ["w1"])
    end = NOW + timedelta(minutes=1)
    async with store.sessionmaker.begin() as session:
        assert await finish_job(session, "job-1", JobState.FAILED, "no executor", end)
        assert not await finish_job(session, "job-2", JobState.FAILED, None, end)
        with pytest.raises(ValueError, match="not running"):
            await finish_job(session, "job-1", JobState.RUNNING, None, end)
    row = await job(store)
    assert row is not None
    assert (row.state, row.error, row.finished_at, row.updated_at) == (
        "failed",
        "no executor",
        end,
        end,
    )


# -- queries ---------------------------------------------------------------------------------------


async def test_get_job_only_in_its_app(store: Store) -> None:
    await create(store, ["w1"])
    assert await job(store, app="billing") is None
    assert await job(store, job_id="job-2") is None
    with pytest.raises(ValueError, match="invalid app name"):
        await job(store, app="")


async def test_list_jobs_newest_first(store: Store) -> None:
    for i in range(4):
        await create(store, ["w1"], new_job(f"job-{i}", created_at=NOW + timedelta(seconds=i)))
    await create(store, ["w1"], new_job("other", app="billing", created_at=NOW))
    async with store.sessionmaker() as session:
        assert [j.job_id for j in await list_jobs(session, "orders", limit=3)] == [
            "job-3",
            "job-2",
            "job-1",
        ]
        assert [j.job_id for j in await list_jobs(session, "billing")] == ["other"]


async def test_list_job_items_pages(store: Store) -> None:
    await create(store, [f"w{i}" for i in range(10)])
    async with store.sessionmaker() as session:
        page = await list_job_items(session, "job-1", limit=4, offset=8)
        assert [i.workflow_id for i in page] == ["w8", "w9"]
        assert await list_job_items(session, "job-2") == []


async def test_stale_running_jobs_are_interrupted(store: Store) -> None:
    await create(store, ["w1"], new_job("stale", created_at=NOW))
    await create(store, ["w1"], new_job("fresh", created_at=NOW + timedelta(minutes=10)))
    await create(store, ["w1"], new_job("done", created_at=NOW))
    later = NOW + timedelta(minutes=20)
    async with store.sessionmaker.begin() as session:
        await finish_job(session, "done", JobState.SUCCEEDED, None, NOW)
        assert await interrupt_stale_jobs(session, NOW + timedelta(minutes=5), now=later) == 1
    async with store.sessionmaker.begin() as session:
        assert await interrupt_stale_jobs(session, NOW + timedelta(minutes=5), now=later) == 0
    states = {name: counters(await job(store, name))[0] for name in ("stale", "fresh", "done")}
    assert states == {"stale": "interrupted", "fresh": "running", "done": "succeeded"}
    stale = await job(store, "stale")
    assert stale is not None
    assert (stale.error, stale.finished_at) == (INTERRUPTED_ERROR, later)


# -- size ------------------------------------------------------------------------------------------


async def test_a_job_of_ten_thousand_workflows(store: Store) -> None:
    workflow_ids = [f"wf-{i:05d}" for i in range(10_000)]
    await create(store, workflow_ids)
    async with store.sessionmaker() as session:
        count = select(func.count()).select_from(BulkJobItemRow)
        assert await session.scalar(count) == 10_000
    processed: list[str] = []
    while batch := await pending(store, limit=1_000):
        processed.extend(batch)
        outcomes = [ok(w) if int(w[3:]) % 10 else failed(w) for w in batch]
        row = await record(store, *outcomes)
    assert processed == workflow_ids
    assert counters(row) == ("running", 10_000, 10_000, 9_000, 1_000)
    assert ItemState.PENDING not in {i.outcome for i in await items_page(store, 9_990)}


async def items_page(store: Store, offset: int) -> list[BulkJobItemRow]:
    async with store.sessionmaker() as session:
        return await list_job_items(session, "job-1", limit=100, offset=offset)
