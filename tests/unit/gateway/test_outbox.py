"""``gateway.outbox``: session events leave in the order they were put, a failed batch is tried
again before anything behind it, and the cap drops the oldest not in flight, naming their apps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.outbox import SessionEvent, SessionOutbox
from streams.ids import AppName, ConnId, ExecutorId, GatewayId
from streams.records import ExecutorConnected, ExecutorDisconnected, ExecutorInfo, SessionInfo


def connected(executor_id: str, conn_id: str, ts_ms: int, app: str = "orders") -> SessionEvent:
    info = ExecutorInfo(
        executor_id=ExecutorId(executor_id), application_version="v1", hostname="h", language="py"
    )
    session = SessionInfo(info=info, conn_id=ConnId(conn_id), connected_at_ms=ts_ms)
    return ExecutorConnected(
        app=AppName(app), gateway=GatewayId("gw"), session=session, ts_ms=ts_ms
    )


def disconnected(executor_id: str, conn_id: str, ts_ms: int, app: str = "orders") -> SessionEvent:
    return ExecutorDisconnected(
        app=AppName(app),
        gateway=GatewayId("gw"),
        executor_id=ExecutorId(executor_id),
        conn_id=ConnId(conn_id),
        close_code=1006,
        close_reason="",
        draining=False,
        ts_ms=ts_ms,
    )


def test_a_failed_batch_goes_out_again_before_the_connect_that_followed_it() -> None:
    outbox = SessionOutbox(max_records=10, batch_records=1)
    outbox.put(disconnected("e1", "c1", 1))
    first = outbox.take()
    outbox.put(connected("e1", "c2", 2))  # the executor is back while its disconnect is in flight
    assert outbox.take() == ()  # one batch in flight at a time
    outbox.failed()

    assert outbox.take() == first
    outbox.delivered()
    assert [r.type.value for r in outbox.take()] == ["executor_connected"]
    outbox.delivered()
    assert len(outbox) == 0
    assert outbox.take() == ()


def test_the_cap_drops_the_oldest_queued_never_the_batch_in_flight() -> None:
    outbox = SessionOutbox(max_records=3, batch_records=1)
    outbox.put(disconnected("e1", "c1", 1, app="a"))
    in_flight = outbox.take()
    outbox.put(disconnected("e2", "c2", 2, app="b"))
    outbox.put(disconnected("e3", "c3", 3, app="c"))

    overflow = outbox.put(disconnected("e4", "c4", 4, app="d"))

    assert overflow is not None
    assert (overflow.dropped, overflow.apps) == (1, frozenset({AppName("b")}))
    assert len(outbox) == 3
    outbox.failed()
    left: list[SessionEvent] = []
    while batch := outbox.take():
        left.extend(batch)
        outbox.delivered()
    assert left == [
        *in_flight,
        disconnected("e3", "c3", 3, app="c"),
        disconnected("e4", "c4", 4, app="d"),
    ]


def test_a_batch_is_below_the_cap() -> None:
    outbox = SessionOutbox(max_records=2, batch_records=1_000)
    for i in range(5):
        outbox.put(connected(f"e{i}", "c", i))
    assert len(outbox.take()) == 1
    with pytest.raises(ValueError, match="max_records"):
        SessionOutbox(max_records=1)


Step = tuple[str, int]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 3)),
        st.tuples(st.sampled_from(["take", "delivered", "failed"]), st.just(0)),
    ),
    max_size=80,
)


@given(steps, st.integers(2, 8), st.integers(1, 4))
def test_whatever_the_outcomes_records_leave_in_order_once_each_or_are_reported_dropped(
    script: list[Step], max_records: int, batch_records: int
) -> None:
    outbox = SessionOutbox(max_records=max_records, batch_records=batch_records)
    put: list[SessionEvent] = []
    written: list[SessionEvent] = []
    dropped = 0
    batch: tuple[SessionEvent, ...] = ()
    for action, executor in script:
        match action:
            case "put":
                record = disconnected(f"e{executor}", f"c{len(put)}", len(put))
                put.append(record)
                overflow = outbox.put(record)
                dropped += 0 if overflow is None else overflow.dropped
            case "take":
                batch = outbox.take() or batch
            case "delivered" if outbox.in_flight:
                written.extend(batch)
                outbox.delivered()
            case "failed" if outbox.in_flight:
                outbox.failed()
        assert len(outbox) <= max_records
    if outbox.in_flight:
        outbox.failed()
    while batch := outbox.take():
        written.extend(batch)
        outbox.delivered()

    # Every record written once, in the order put (a subsequence: the dropped are missing).
    assert len(written) + dropped == len(put)
    positions = [put.index(r) for r in written]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)


def test_an_app_is_held_until_its_last_record_is_written_or_dropped() -> None:
    outbox = SessionOutbox(max_records=3, batch_records=1)
    outbox.put(disconnected("e1", "c1", 1, app="a"))
    outbox.put(disconnected("e2", "c2", 2, app="b"))
    outbox.take()
    outbox.failed()
    assert outbox.holds(AppName("a"))
    assert outbox.holds(AppName("b"))
    outbox.take()
    outbox.delivered()
    assert not outbox.holds(AppName("a"))
    outbox.put(disconnected("e3", "c3", 3, app="c"))
    outbox.put(disconnected("e4", "c4", 4, app="c"))
    outbox.put(disconnected("e5", "c5", 5, app="c"))  # over the cap: b's record dropped
    assert not outbox.holds(AppName("b"))
    assert outbox.holds(AppName("c"))
