"""``HandshakeAdmission``: failed handshakes per source block it for a while, key checks in flight
per source are capped, and sources are IPs, IPv6 /64 networks or a proxy's forwarded address."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.admission import (
    AdmissionLimits,
    HandshakeAdmission,
    Verdict,
    forwarded_client,
    source_of,
)

T0 = 1_700_000_000_000
LIMITS = AdmissionLimits(max_failures=3, window_ms=1_000, block_ms=5_000, max_pending=2)


def fail(admission: HandshakeAdmission, source: str, now_ms: int) -> bool:
    """One handshake from ``source`` whose key is refused; True if it blocked the source."""
    assert admission.begin(source, now_ms) is Verdict.CHECK
    try:
        return admission.failed(source, now_ms)
    finally:
        admission.done(source)


def succeed(admission: HandshakeAdmission, source: str, now_ms: int) -> Verdict:
    verdict = admission.begin(source, now_ms)
    if verdict is Verdict.CHECK:
        admission.done(source)
    return verdict


def test_failures_within_the_window_block_the_source_for_the_block_time() -> None:
    admission = HandshakeAdmission(LIMITS)
    assert [fail(admission, "a", T0 + i) for i in range(3)] == [False, False, True]
    assert admission.begin("a", T0 + 10) is Verdict.BLOCKED
    assert admission.blocked_for_ms("a", T0 + 10) == 5_000 - 8
    assert admission.begin("a", T0 + 2 + 4_999) is Verdict.BLOCKED
    assert succeed(admission, "a", T0 + 2 + 5_000) is Verdict.CHECK  # the block is over
    assert admission.blocked_for_ms("a", T0 + 2 + 5_000) == 0


def test_other_sources_are_not_affected() -> None:
    admission = HandshakeAdmission(LIMITS)
    for i in range(3):
        fail(admission, "flooder", T0 + i)
    assert admission.begin("flooder", T0 + 5) is Verdict.BLOCKED
    assert succeed(admission, "honest", T0 + 5) is Verdict.CHECK


def test_failures_spread_beyond_the_window_never_block() -> None:
    # A DBOS client with a revoked key retries once a second: refused every time, never blocked.
    admission = HandshakeAdmission(AdmissionLimits())
    for second in range(600):
        assert fail(admission, "a", T0 + second * 1_000) is False
    assert admission.blocked_for_ms("a", T0 + 600_000) == 0


def test_default_limits_block_a_flood_within_its_first_hundred_attempts() -> None:
    admission = HandshakeAdmission()
    verdicts = [fail(admission, "a", T0 + i) for i in range(admission.limits.max_failures)]
    assert verdicts[-1] is True
    assert admission.begin("a", T0 + 100) is Verdict.BLOCKED


def test_a_success_does_not_clear_failures() -> None:
    admission = HandshakeAdmission(LIMITS)
    fail(admission, "a", T0)
    fail(admission, "a", T0 + 1)
    assert succeed(admission, "a", T0 + 2) is Verdict.CHECK
    assert fail(admission, "a", T0 + 3) is True


def test_checks_in_flight_per_source_are_capped() -> None:
    admission = HandshakeAdmission(LIMITS)
    assert [admission.begin("a", T0) for _ in range(3)] == [
        Verdict.CHECK,
        Verdict.CHECK,
        Verdict.BUSY,
    ]
    assert admission.begin("b", T0) is Verdict.CHECK  # another source has its own cap
    admission.done("a")
    assert admission.begin("a", T0) is Verdict.CHECK
    admission.done("unknown")  # harmless


def test_failures_while_blocked_do_not_extend_the_block() -> None:
    admission = HandshakeAdmission(LIMITS)
    for i in range(2):
        fail(admission, "a", T0 + i)
    # Two checks in flight when the third failure blocks the source: they fail afterwards.
    assert admission.begin("a", T0 + 2) is Verdict.CHECK
    assert admission.begin("a", T0 + 2) is Verdict.CHECK
    assert admission.failed("a", T0 + 2) is True
    assert admission.failed("a", T0 + 3) is False
    assert admission.blocked_for_ms("a", T0 + 3) == 5_000 - 1


def test_refusals_are_counted_until_taken() -> None:
    admission = HandshakeAdmission(LIMITS)
    for i in range(3):
        fail(admission, "a", T0 + i)
    admission.begin("a", T0 + 3)  # blocked: a refusal too
    assert admission.take_refused("a") == 4
    assert admission.take_refused("a") == 0
    assert admission.take_refused("never seen") == 0


def test_memory_is_bounded_and_keeps_blocked_sources() -> None:
    admission = HandshakeAdmission(AdmissionLimits(max_failures=1, max_sources=10))
    fail(admission, "blocked", T0)
    for i in range(100):
        succeed(admission, f"10.0.0.{i}", T0)
    assert len(admission._sources) <= 10
    assert admission.begin("blocked", T0 + 1) is Verdict.BLOCKED


@given(
    events=st.lists(
        st.tuples(st.sampled_from(["begin", "failed", "done"]), st.sampled_from("abc")),
        max_size=200,
    )
)
def test_in_flight_counts_never_go_negative_or_past_the_cap(
    events: list[tuple[str, str]],
) -> None:
    admission = HandshakeAdmission(LIMITS)
    for now_ms, (event, source) in enumerate(events, start=T0):
        match event:
            case "begin":
                admission.begin(source, now_ms)
            case "failed":
                admission.failed(source, now_ms)
            case _:
                admission.done(source)
        assert all(0 <= s.pending <= LIMITS.max_pending for s in admission._sources.values())


# -- sources --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "source"),
    [
        ("127.0.0.1", "127.0.0.1"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::1", "::/64"),
        ("", ""),
        ("not an address", "not an address"),
        ("x" * 100, "x" * 64),
    ],
)
def test_source_of(address: str, source: str) -> None:
    assert source_of(address) == source


@pytest.mark.parametrize(
    ("values", "client"),
    [
        ([], None),
        ([""], None),
        (["203.0.113.7"], "203.0.113.7"),
        (["198.51.100.1, 203.0.113.7"], "203.0.113.7"),  # the client wrote the first entry
        (["198.51.100.1", "203.0.113.7"], "203.0.113.7"),  # the proxy added a second header
        (["203.0.113.7", " , "], "203.0.113.7"),
    ],
)
def test_forwarded_client_is_the_rightmost_entry(values: list[str], client: str | None) -> None:
    assert forwarded_client(values) == client
