"""Polling assertions: wait for a condition instead of sleeping a fixed time.

A check is a zero-argument callable. It passes when it returns a truthy value (which
``assert_eventually`` returns) and fails for now when it returns something falsy or raises
``AssertionError``; any other exception propagates at once. Both variants share the same
deadline arithmetic; the async one yields to the event loop between attempts, so an
in-process server (the gateway under test) keeps running while a test waits.

Imports nothing from Baton and nothing from pytest: bench scripts use it too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _attempt(check: Callable[[], T]) -> tuple[T | None, str | None]:
    """Run ``check`` once; return ``(value, None)`` on success, ``(None, why)`` otherwise."""
    try:
        value = check()
    except AssertionError as exc:
        return None, f"AssertionError: {exc}"
    if not value:
        return None, f"check returned {value!r}"
    return value, None


def _timeout_error(message: str, timeout_s: float, last_failure: str | None) -> AssertionError:
    return AssertionError(f"{message} (not true after {timeout_s:.1f}s; last: {last_failure})")


def assert_eventually(
    check: Callable[[], T],
    *,
    timeout_s: float,
    interval_s: float = 0.1,
    message: str = "condition",
) -> T:
    """Call ``check`` until it passes, blocking the calling thread.

    Args:
        check: returns a truthy value, or raises ``AssertionError``, to report progress.
        timeout_s: give up after this long.
        interval_s: pause between attempts.
        message: what was awaited; leads the failure message.

    Returns:
        The first truthy value ``check`` returned.

    Raises:
        AssertionError: ``check`` did not pass within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value, failure = _attempt(check)
        if failure is None:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise _timeout_error(message, timeout_s, failure)
        time.sleep(interval_s)


async def assert_eventually_async(
    check: Callable[[], T],
    *,
    timeout_s: float,
    interval_s: float = 0.1,
    message: str = "condition",
) -> T:
    """Like ``assert_eventually`` but awaits between attempts.

    ``check`` itself is synchronous and should be quick (a SQL query, an HTTP GET to a
    local executor); it runs on the event loop thread.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value, failure = _attempt(check)
        if failure is None:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise _timeout_error(message, timeout_s, failure)
        await asyncio.sleep(interval_s)


async def eventually(check: Callable[[], T | None], message: str, timeout_s: float = 10.0) -> T:
    """Wait until ``check`` returns something truthy (polling every 20 ms), and return it."""
    value = await assert_eventually_async(
        check, timeout_s=timeout_s, interval_s=0.02, message=message
    )
    assert value is not None
    return value
