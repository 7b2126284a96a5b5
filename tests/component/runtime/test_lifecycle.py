"""The lifecycle pattern itself: idempotent start and stop, a draining stop in reverse order of
start, a dead loop that fails its service (and its group) instead of vanishing, and no task left
running once a service has stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from runtime.lifecycle import Service, ServiceGroup, first_of, run_until
from streams.exceptions import RoleFailed, ServiceNotRunning


@contextlib.asynccontextmanager
async def resource(name: str, journal: list[str]) -> AsyncIterator[None]:
    journal.append(f"open {name}")
    try:
        yield
    finally:
        journal.append(f"close {name}")


class Recorder(Service):
    """Three resources, one loop and one server-like intake; every step goes to ``journal``."""

    def __init__(self, name: str = "recorder", *, drain_timeout_s: float = 0.0) -> None:
        super().__init__(name, drain_timeout_s=drain_timeout_s)
        self.journal: list[str] = []
        self.fail_start_after: str | None = None

    async def _start(self, stack: AsyncExitStack) -> None:
        for name in ("a", "b", "c"):
            await stack.enter_async_context(resource(name, self.journal))
            if name == self.fail_start_after:
                raise OSError(f"cannot open what comes after {name}")
        self.tasks.loop("ticker", self._tick())
        await asyncio.sleep(0)  # let it start, so that its cancellation shows in the journal

    async def _stop_accepting(self) -> None:
        self.journal.append("stop accepting")

    async def _tick(self) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            self.journal.append("ticker cancelled")


async def test_stop_runs_in_reverse_order_of_start() -> None:
    async with Recorder() as service:
        assert service.running
        assert service.journal == ["open a", "open b", "open c"]
    assert service.journal == [
        "open a",
        "open b",
        "open c",
        "stop accepting",
        "ticker cancelled",
        "close c",
        "close b",
        "close a",
    ]
    assert not service.running
    assert service.stopping
    assert not service.failed.is_set()


async def test_start_and_stop_are_idempotent() -> None:
    service = Recorder()
    await service.start()
    await service.start()
    assert service.journal == ["open a", "open b", "open c"]
    await asyncio.gather(service.stop(), service.stop())
    await service.stop()
    assert service.journal.count("close a") == 1
    assert service.journal.count("stop accepting") == 1
    with pytest.raises(ServiceNotRunning, match="runs once"):
        await service.start()


async def test_a_concurrent_stop_waits_for_the_one_in_progress() -> None:
    release = asyncio.Event()

    class SlowToClose(Service):
        async def _start(self, stack: AsyncExitStack) -> None:
            stack.push_async_callback(release.wait)

    service = SlowToClose("slow")
    await service.start()
    first = asyncio.create_task(service.stop())
    await asyncio.sleep(0)
    second = asyncio.create_task(service.stop())
    await asyncio.sleep(0.05)
    assert not first.done()
    assert not second.done()  # it returns only once the service has stopped
    release.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)


async def test_a_failed_start_closes_what_had_started_and_raises() -> None:
    service = Recorder()
    service.fail_start_after = "b"
    with pytest.raises(OSError, match="after b"):
        await service.start()
    assert service.journal == ["open a", "open b", "stop accepting", "close b", "close a"]
    assert isinstance(service.failure, OSError)
    assert service.failed.is_set()
    assert not service.running


async def test_a_loop_that_dies_fails_the_service(caplog: pytest.LogCaptureFixture) -> None:
    boom = ValueError("the consumer went away")

    class Dying(Service):
        async def _start(self, stack: AsyncExitStack) -> None:
            self.tasks.loop("reader", self._read())

        async def _read(self) -> None:
            await asyncio.sleep(0.01)
            raise boom

    async with Dying("reader service") as service:
        await asyncio.wait_for(service.failed.wait(), 5)
        assert service.failure is boom
        assert service.running  # failed, but only its owner stops it
        with pytest.raises(RoleFailed, match="reader service failed") as raised:
            service.raise_if_failed()
        assert raised.value.__cause__ is boom
    died = [r for r in caplog.records if r.name == "runtime.lifecycle" and r.levelname == "ERROR"]
    assert len(died) == 1
    assert died[0].exc_info is not None
    assert died[0].exc_info[1] is boom


async def test_a_loop_that_returns_fails_the_service_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Quitter(Service):
        async def _start(self, stack: AsyncExitStack) -> None:
            self.tasks.loop("quitter", asyncio.sleep(0))

    async with Quitter("quitter service") as service:
        await asyncio.wait_for(service.failed.wait(), 5)
        assert isinstance(service.failure, RoleFailed)
        assert "quitter ended on its own" in str(service.failure)
    (died,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert died.getMessage() == (
        "quitter service: quitter died; the service has failed: "
        "quitter service: quitter ended on its own"
    )
    assert died.exc_info is None  # one of ours, raised on purpose: no traceback


async def test_a_loop_ending_during_stop_is_not_a_failure() -> None:
    closed = asyncio.Event()

    class Reader(Service):
        """Its loop ends (with an error) when the resource under it closes, as a consumer's
        iteration does."""

        async def _start(self, stack: AsyncExitStack) -> None:
            self.tasks.loop("reader", self._read())

        async def _stop_accepting(self) -> None:
            closed.set()
            await asyncio.sleep(0.01)  # the loop notices before it is cancelled

        async def _read(self) -> None:
            await closed.wait()
            raise ConnectionError("consumer stopped")

    async with Reader("reader") as service:
        pass
    assert not service.failed.is_set()
    assert service.failure is None


async def test_run_until_returns_on_stop_and_raises_on_failure() -> None:
    stop = asyncio.Event()
    async with Recorder() as healthy:
        stop.set()
        await asyncio.wait_for(run_until(stop, healthy), 5)

    class Dying(Service):
        async def _start(self, stack: AsyncExitStack) -> None:
            self.tasks.loop("heartbeats", self._beat())

        async def _beat(self) -> None:
            raise RuntimeError("no broker")

    async with Dying("gateway") as dying:
        with pytest.raises(RoleFailed, match=r"gateway failed: RuntimeError\('no broker'\)"):
            await asyncio.wait_for(run_until(asyncio.Event(), dying), 5)


async def test_no_task_is_left_running_after_stop() -> None:
    before = asyncio.all_tasks()
    finished: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0.01)
        finished.append("quick")

    async def endless() -> None:
        await asyncio.Event().wait()

    service = Service("owner", drain_timeout_s=0.5)
    async with service:
        service.tasks.loop("loop", endless())
        service.tasks.job("quick job", quick())
        service.tasks.job("endless job", endless())
        assert service.tasks.running == {
            "owner: loop",
            "owner: quick job",
            "owner: endless job",
        }
    assert finished == ["quick"]  # a job gets the drain time to finish
    assert service.tasks.running == frozenset()
    assert asyncio.all_tasks() == before
    assert not service.failed.is_set()


async def test_a_job_that_overstays_the_drain_is_cancelled() -> None:
    cancelled = asyncio.Event()

    async def long_job() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    service = Service("jobs", drain_timeout_s=0.05)
    await service.start()
    service.tasks.job("long", long_job())
    await asyncio.wait_for(service.stop(), 5)
    assert cancelled.is_set()


async def test_a_job_that_raises_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise KeyError("bug in one job")

    async with Service("jobs") as service:
        task = service.tasks.job("broken", broken())
        await asyncio.wait_for(asyncio.shield(task), 5)
        assert not service.failed.is_set()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == ["jobs: broken failed"]


async def test_work_is_refused_before_start_and_once_stopping() -> None:
    async def work() -> None:
        await asyncio.sleep(0)

    service = Service("picky")
    with pytest.raises(ServiceNotRunning, match="has not started"):
        service.tasks.job("early", work())
    with pytest.raises(ServiceNotRunning, match="has not started"):
        service.ensure_running()
    async with service:
        service.ensure_running()
    with pytest.raises(ServiceNotRunning, match="is stopping"):
        service.tasks.loop("late", work())
    with pytest.raises(ServiceNotRunning, match="is stopping"):
        service.ensure_running()


async def test_a_group_starts_in_order_stops_in_reverse_and_fails_with_a_member() -> None:
    journal: list[str] = []
    first, second = Recorder("first"), Recorder("second")
    first.journal = second.journal = journal
    boom = OSError("member down")

    async with ServiceGroup("group", [resource("store", journal), first, second]) as group:
        assert journal == ["open store", *(["open a", "open b", "open c"] * 2)]
        journal.clear()
        assert not group.failed.is_set()
        second._fail(boom)  # what a dead loop of the member does
        assert group.failed.is_set()
        assert group.failure is boom
    assert journal == [
        *("stop accepting", "ticker cancelled", "close c", "close b", "close a") * 2,
        "close store",
    ]


async def test_a_group_member_that_fails_to_start_stops_the_ones_before() -> None:
    journal: list[str] = []
    first, second = Recorder("first"), Recorder("second")
    first.journal = second.journal = journal
    second.fail_start_after = "a"
    group = ServiceGroup("group", [first, second])
    with pytest.raises(OSError, match="after a"):
        await group.start()
    assert journal == [
        *("open a", "open b", "open c"),  # first
        "open a",  # second, which then fails
        *("stop accepting", "close a"),  # second's own rollback
        *("stop accepting", "ticker cancelled", "close c", "close b", "close a"),  # first's
    ]
    assert not first.running
    assert isinstance(group.failure, OSError)


async def test_first_of_cancels_the_others_and_leaves_none_running() -> None:
    before = asyncio.all_tasks()
    cancelled = asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    await asyncio.wait_for(first_of(slow(), asyncio.sleep(0)), 5)
    assert cancelled.is_set()
    assert asyncio.all_tasks() == before

    async def broken() -> None:
        raise LookupError("first to finish")

    with pytest.raises(LookupError, match="first to finish"):
        await first_of(slow(), broken())
    await first_of(slow(), timeout_s=0.01)
    assert asyncio.all_tasks() == before
