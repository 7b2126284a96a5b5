"""The audit log on a real SQLite file: recovery decisions and operator actions become rows,
replays change nothing, every filter, keyset pages, idempotency lookups, and index use."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import event, func, select

from store.audit import (
    AuditFilter,
    audit_event_key,
    find_action,
    list_audit,
    record_audit,
)
from store.database import Store, sqlite_url
from store.models import AuditRow, utc_from_ms
from store.paging import SortOrder, encode_cursor
from streams.codec import encode
from streams.ids import AppName, ExecutorId
from streams.records import (
    ActionOutcome,
    AuditRecord,
    OperatorAction,
    RecoveryDecision,
    RecoveryStep,
)

T0 = 1_700_000_000_000


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        yield store


def decision(
    step: RecoveryStep, ts_ms: int, attempt: int = 0, *, app: str = "orders"
) -> RecoveryDecision:
    return RecoveryDecision(
        app=AppName(app),
        dead_executor_id=ExecutorId("e0"),
        application_version="v1",
        step=step,
        reason=f"step {step.value}",
        ts_ms=ts_ms,
        attempt=attempt,
        target=None if step is RecoveryStep.DECLARED_DEAD else ExecutorId("e1"),
    )


def action(
    action_id: str,
    *,
    app: str = "orders",
    actor: str = "token:alice",
    verb: str = "workflow.cancel",
    target: str = "wf-1",
    outcome: ActionOutcome = ActionOutcome.SUCCEEDED,
    finished_at_ms: int = T0,
    error: str | None = None,
) -> OperatorAction:
    return OperatorAction(
        action_id=action_id,
        app=AppName(app),
        actor=actor,
        action=verb,
        target=target,
        params={"cancel_children": True},
        outcome=outcome,
        requested_at_ms=finished_at_ms - 5,
        finished_at_ms=finished_at_ms,
        error=error,
        result=None if error else {"workflow_ids": [target]},
        executor_id=None if error else ExecutorId("e1"),
    )


async def record(store: Store, *records: AuditRecord) -> None:
    async with store.sessionmaker.begin() as session:
        await record_audit(session, records)


async def listed(store: Store, flt: AuditFilter | None = None, **kwargs: Any) -> list[AuditRow]:
    async with store.sessionmaker() as session:
        page = await list_audit(session, flt or AuditFilter(), **kwargs)
        return page.entries


async def all_rows(store: Store) -> list[tuple[Any, ...]]:
    """Every row but its id, in insertion order."""
    a = AuditRow
    columns = (a.app, a.ts, a.actor, a.action, a.subject, a.detail, a.outcome, a.record)
    async with store.sessionmaker() as session:
        result = await session.execute(select(*columns, a.event_key).order_by(a.id))
        return [tuple(row) for row in result]


# -- records to rows -------------------------------------------------------------------------------


async def test_recovery_decisions_are_recorded_once(store: Store) -> None:
    decisions = [
        decision(RecoveryStep.DECLARED_DEAD, T0),
        decision(RecoveryStep.TARGET_CHOSEN, T0 + 1, attempt=1),
        decision(RecoveryStep.SUCCEEDED, T0 + 2, attempt=1),
    ]
    await record(store, *decisions)
    await record(store, *decisions, decisions[0])  # replayed, and a duplicate
    await record(store)
    async with store.sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(AuditRow))
    rows = await listed(store, AuditFilter(app="orders"))
    assert count == 3
    assert [(r.action, r.actor, r.subject, r.outcome) for r in rows] == [
        ("recovery.succeeded", "recovery-agent", "e0", "succeeded"),
        ("recovery.target_chosen", "recovery-agent", "e0", "ok"),
        ("recovery.declared_dead", "recovery-agent", "e0", "ok"),
    ]
    assert rows[0].record is not None
    assert rows[0].record["type"] == "recovery_decision"
    assert rows[0].record["target"] == "e1"
    assert rows[2].detail == "step declared_dead"
    assert rows[2].event_key == "orders/e0/declared_dead/0/1700000000000"


async def test_an_operator_action_becomes_one_row(store: Store) -> None:
    failed = action(
        "a1", outcome=ActionOutcome.FAILED, error="no such workflow", finished_at_ms=T0 + 7
    )
    await record(store, failed)
    [row] = await listed(store)
    assert (row.app, row.actor, row.action, row.subject) == (
        "orders",
        "token:alice",
        "workflow.cancel",
        "wf-1",
    )
    assert (row.detail, row.outcome) == ("no such workflow", "failed")
    assert row.ts == utc_from_ms(T0 + 7)
    assert row.event_key == "action/orders/a1" == audit_event_key(failed)
    assert row.record == orjson.loads(encode(failed))
    ok = action("a2", finished_at_ms=T0 + 8)
    await record(store, ok)
    newest = (await listed(store))[0]
    assert (newest.detail, newest.outcome) == (None, "succeeded")


async def test_replaying_gives_identical_rows(store: Store, tmp_path: Path) -> None:
    records: list[AuditRecord] = [
        decision(RecoveryStep.DECLARED_DEAD, T0),
        action("a1", finished_at_ms=T0 + 1),
        action("a2", outcome=ActionOutcome.REJECTED, error="no executor", finished_at_ms=T0 + 2),
        decision(RecoveryStep.STRANDED, T0 + 3, attempt=2),
    ]
    await record(store, *records)
    first = await all_rows(store)
    await record(store, *reversed(records))  # the worker and replay both write them
    assert await all_rows(store) == first
    async with Store(sqlite_url(tmp_path / "replayed.db")) as replayed:
        for one in records:
            await record(replayed, one, one)
        assert await all_rows(replayed) == first


async def test_long_texts_are_cut_and_long_keys_skipped(store: Store) -> None:
    long_actor = action("a1", actor="user:" + "x" * 500, target="w" * 600)
    await record(store, long_actor, action("k" * 513), action("a2", app="a" * 129))
    [row] = await listed(store)
    assert len(row.actor) == 128
    assert len(row.subject) == 512
    assert row.record is not None
    assert row.record["actor"] == long_actor.actor  # the record keeps everything
    # The same cut applies to the filter, so the long actor still finds its row.
    assert [r.id for r in await listed(store, AuditFilter(actor=long_actor.actor))] == [row.id]
    assert [r.id for r in await listed(store, AuditFilter(target=long_actor.target))] == [row.id]


# -- idempotency lookups ---------------------------------------------------------------------------


async def test_find_action_returns_the_recorded_action(store: Store) -> None:
    recorded = action("a1", error="boom", outcome=ActionOutcome.FAILED)
    await record(store, recorded, decision(RecoveryStep.DECLARED_DEAD, T0))
    async with store.sessionmaker() as session:
        assert await find_action(session, "orders", "a1") == recorded
        assert await find_action(session, "billing", "a1") is None
        assert await find_action(session, "orders", "a2") is None


async def test_find_action_ignores_another_record_under_the_same_key(store: Store) -> None:
    # A recovery decision of the app "action" has the key "action/e0/declared_dead/0/<ts>".
    await record(store, decision(RecoveryStep.DECLARED_DEAD, T0, app="action"))
    async with store.sessionmaker() as session:
        assert await find_action(session, "e0", f"declared_dead/0/{T0}") is None


# -- filters ---------------------------------------------------------------------------------------


async def seed_filters(store: Store) -> None:
    await record(
        store,
        decision(RecoveryStep.DECLARED_DEAD, T0),
        action("a1", finished_at_ms=T0 + 1),
        action("a2", app="billing", actor="user:bob", verb="workflow.fork", finished_at_ms=T0 + 2),
        action("a3", verb="schedule.pause", target="nightly", finished_at_ms=T0 + 3),
        action("a4", verb="workflows.x", finished_at_ms=T0 + 4),
        action(
            "a5",
            verb="workflow",
            outcome=ActionOutcome.REJECTED,
            error="no executor",
            finished_at_ms=T0 + 5,
        ),
        action("a6", verb="bulk.resume", target="job-1", finished_at_ms=T0 + 6),
    )


def keys(rows: list[AuditRow]) -> list[str]:
    return [
        row.event_key.rsplit("/", 1)[-1] if "action/" in row.event_key else "rec" for row in rows
    ]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (AuditFilter(), ["a6", "a5", "a4", "a3", "a2", "a1", "rec"]),
        (AuditFilter(app="billing"), ["a2"]),
        (AuditFilter(app="orders"), ["a6", "a5", "a4", "a3", "a1", "rec"]),
        (AuditFilter(actor="user:bob"), ["a2"]),
        (AuditFilter(actor="recovery-agent"), ["rec"]),
        (AuditFilter(action="workflow.cancel"), ["a1"]),
        (AuditFilter(action="workflow."), ["a2", "a1"]),  # not "workflows.x", not "workflow"
        (AuditFilter(action="workflow"), ["a5"]),
        (AuditFilter(action="recovery."), ["rec"]),
        (AuditFilter(action="nothing."), []),
        (AuditFilter(target="nightly"), ["a3"]),
        (AuditFilter(target="e0"), ["rec"]),
        (AuditFilter(outcome="rejected"), ["a5"]),
        (AuditFilter(outcome="ok"), ["rec"]),
        (AuditFilter(since=utc_from_ms(T0 + 5)), ["a6", "a5"]),  # inclusive
        (AuditFilter(until=utc_from_ms(T0 + 1)), ["rec"]),  # exclusive
        (AuditFilter(since=utc_from_ms(T0 + 1), until=utc_from_ms(T0 + 3)), ["a2", "a1"]),
        (AuditFilter(app="orders", action="workflow.", actor="token:alice"), ["a1"]),
        (AuditFilter(app="", actor="", action="", target="", outcome=""), None),  # blanks
    ],
)
async def test_every_filter(store: Store, flt: AuditFilter, expected: list[str] | None) -> None:
    await seed_filters(store)
    everything = keys(await listed(store))
    assert keys(await listed(store, flt)) == (everything if expected is None else expected)


async def test_since_in_another_timezone_means_the_same_instant(store: Store) -> None:
    await seed_filters(store)
    plus_two = timezone_shifted(utc_from_ms(T0 + 5), hours=2)
    assert keys(await listed(store, AuditFilter(since=plus_two))) == ["a6", "a5"]


def timezone_shifted(instant: datetime, *, hours: int) -> datetime:
    return instant.astimezone(timezone(timedelta(hours=hours)))


async def test_invalid_filters_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="invalid app name"):
        await listed(store, AuditFilter(app="no/slash"))
    with pytest.raises(ValueError, match="naive"):
        await listed(store, AuditFilter(since=datetime(2024, 1, 1)))


# -- pages -----------------------------------------------------------------------------------------


async def test_cursor_pages_walk_everything_once(store: Store) -> None:
    # Ties on ts (three per millisecond): the id orders them, and pages split ties.
    records = [action(f"a{i:02d}", finished_at_ms=T0 + i // 3) for i in range(25)]
    await record(store, *records)
    everything = await listed(store, limit=100)
    assert len(everything) == 25
    seen: list[AuditRow] = []
    cursor: str | None = None
    pages = 0
    while True:
        async with store.sessionmaker() as session:
            page = await list_audit(session, AuditFilter(), limit=7, cursor=cursor)
        seen.extend(page.entries)
        pages += 1
        if pages == 2:  # entries arriving between pages are newer: none is skipped or repeated
            await record(store, action("late", finished_at_ms=T0 + 100))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 4
    assert [r.id for r in seen] == [r.id for r in everything]


async def test_cursor_pages_of_a_filter(store: Store) -> None:
    await record(
        store,
        *(
            action(f"a{i}", app="orders" if i % 2 else "billing", finished_at_ms=T0 + i)
            for i in range(9)
        ),
    )
    flt = AuditFilter(app="orders")
    async with store.sessionmaker() as session:
        first = await list_audit(session, flt, limit=3)
        assert first.next_cursor is not None
        second = await list_audit(session, flt, limit=3, cursor=first.next_cursor)
    assert keys(first.entries) == ["a7", "a5", "a3"]
    assert keys(second.entries) == ["a1"]
    assert second.next_cursor is None


async def test_a_last_full_page_has_no_next_cursor(store: Store) -> None:
    await record(store, *(action(f"a{i}", finished_at_ms=T0 + i) for i in range(3)))
    async with store.sessionmaker() as session:
        page = await list_audit(session, AuditFilter(), limit=3)
    assert page.next_cursor is None


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        "bm9wZQ",  # "nope"
        encode_cursor(SortOrder.OLDEST, 1, "1"),  # another order
        encode_cursor(SortOrder.NEWEST, 1, "wf-1"),  # a workflows cursor
        encode_cursor(SortOrder.NEWEST, 2**62, "1"),  # beyond year 9999
    ],
)
async def test_malformed_cursors_are_refused(store: Store, cursor: str) -> None:
    with pytest.raises(ValueError, match="malformed cursor"):
        await listed(store, cursor=cursor)


# -- indexes ---------------------------------------------------------------------------------------


@contextmanager
def captured_statements(store: Store) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        statements.append((sql, params))

    event.listen(store.engine.sync_engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", capture)


@pytest.mark.parametrize(
    ("flt", "index"),
    [
        (AuditFilter(), "ix_audit_log_ts_id"),
        (AuditFilter(app="orders"), "ix_audit_log_app_ts"),
        (AuditFilter(actor="token:alice"), "ix_audit_log_actor_ts"),
        (AuditFilter(action="workflow.cancel"), "ix_audit_log_action_ts"),
        (AuditFilter(target="wf-1"), "ix_audit_log_subject_ts"),
        (AuditFilter(app="orders", since=utc_from_ms(T0)), "ix_audit_log_app_ts"),
    ],
)
async def test_filters_read_an_index_in_order(store: Store, flt: AuditFilter, index: str) -> None:
    await seed_filters(store)
    async with store.sessionmaker() as session:
        first = await list_audit(session, flt, limit=1)
        with captured_statements(store) as statements:
            await list_audit(session, flt, limit=1, cursor=first.next_cursor)
        [(sql, params)] = statements
        conn = await session.connection()
        result = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
        details = " | ".join(str(row[-1]) for row in result)
    assert index in details
    assert "TEMP B-TREE" not in details  # no sort: the index gives the order
