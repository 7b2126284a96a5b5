"""The gateway's Kafka-reachability watchdog: a pod cut off from Kafka stops holding executors.

A pod whose writes to Kafka fail or hang (``gateway.publish_watch``) is useless to its
executors: their heartbeats no longer reach the workers, which would declare them dead after the
liveness timeout and recover them although they live. So, once writes have been failing for
``stall_ms`` and the cluster does not answer this pod either (``probe``, the ``kafka`` readiness
check: a fresh connection asking Metadata; a broker failing over stalls the writes to the
partitions it led for a while, but the others still answer, and nothing is shed), the watchdog

1. makes the pod unready (its ``kafka_writes`` readiness check fails): the load balancer's
   ``/readyz`` check takes it out, and new handshakes are refused with 503;
2. after ``shed_delay_s`` (time for the load balancer to notice), closes every session with 1012
   ("service restart", RFC 6455 §7.4.1 as registered by IANA): the executors reconnect, through
   the load balancer, to a pod that can write. Those closes are marked ``draining``, like a
   stopping pod's, so the workers wait for the reconnects;
3. once writes work again, makes the pod ready and takes executors again; its heartbeat
   snapshots stay quiet meanwhile and for ``READMIT_S`` after (``quiet``): a snapshot taken
   before the shed executors are back would list them as gone, and they are not dead.

Imports nothing of the gateway's but ``gateway.publish_watch``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from gateway.publish_watch import PublishWatch
from runtime.clock import monotonic_ms
from runtime.readiness import Check

logger = logging.getLogger(__name__)

CHECK_INTERVAL_S = 0.25
SHED_DELAY_S = 0.75
"""Between unready and closing the sessions: a load balancer checking ``/readyz`` every 250 ms
(two failures in a row) has taken the pod out by then, so the executors do not come straight
back to it (if one does, the pod refuses it with 503 and it tries again)."""
PROBE_TIMEOUT_S = 2.0
"""A probe unanswered this long counts as unanswered. The probe is a fresh client bootstrapping
from every address in turn, each with its own request timeout: through a link that accepts
connections and forwards nothing, it took 6-7 s to give up, most of the 13-14 s a cut pod's
executors then needed to be back on another pod (against a 15 s liveness timeout). A cluster
that answers takes milliseconds on loopback, and under a second on a 2-core machine at load 50
(1.5 s was too short there: a broker SIGKILLed, a pod shed its sessions although the other
brokers answered). The probe starts this long before the writes have been failing for
``stall_ms``, so its time is not added to the stall's."""
PROBE_PAUSE_MS = 1_000
"""After a probe the cluster answered, while writes still stall: the next one no sooner."""
READMIT_S = 5.0
"""After the pod is back: time for its shed executors to reconnect before its snapshots speak."""
SHED_CODE = 1012
SHED_REASON = "this gateway cannot reach Kafka; reconnect"


class KafkaWatchdog:
    """Watches the pod's publishes and sheds its sessions while Kafka is unwritable.

    Args:
        shed: closes every session of the pod with the given code and reason.
        probe: whether the cluster answers this pod (``None``) or why not; ``None``: writes
            alone decide.
        stall_ms: see ``gateway.publish_watch.PublishWatch``.
        shed_delay_s: between going unready and shedding.
    """

    def __init__(
        self,
        shed: Callable[[int, str], Awaitable[None]],
        *,
        probe: Check | None = None,
        stall_ms: int | None = None,
        shed_delay_s: float = SHED_DELAY_S,
    ) -> None:
        self.watch = PublishWatch() if stall_ms is None else PublishWatch(stall_ms=stall_ms)
        self._shed = shed
        self.probe = probe
        """Whether the cluster answers this pod (see the module docstring)."""
        self._reason: str | None = None
        self._shed_delay_s = shed_delay_s
        self.cut_off = False
        """Whether the pod counts as cut off from Kafka (unready, refusing executors)."""
        self.sheds = 0
        """How many times the pod shed its sessions."""
        self._back_at_ms: int | None = None
        self._probe_after_ms = 0

    async def check(self) -> str | None:
        """The ``kafka_writes`` readiness check (``runtime.readiness.Check``): why the pod is cut
        off, while it is."""
        return self._reason if self.cut_off else None

    def quiet(self) -> bool:
        """Whether the pod's heartbeat snapshots must not be published now (cut off, or just
        back: see the module docstring)."""
        if self.cut_off:
            return True
        back = self._back_at_ms
        return back is not None and monotonic_ms() - back < READMIT_S * 1000

    async def run(self) -> None:
        """Watch until cancelled (a loop of the pod's ``TaskOwner``)."""
        probing: asyncio.Task[str | None] | None = None
        try:
            while True:
                await asyncio.sleep(CHECK_INTERVAL_S)
                probing = await self._step(probing)
        finally:
            if probing is not None:
                probing.cancel()

    async def _step(
        self, probing: asyncio.Task[str | None] | None
    ) -> asyncio.Task[str | None] | None:
        """One look at the writes; returns the probe in flight, if any.

        The probe starts ``PROBE_TIMEOUT_S`` before the writes have been failing for
        ``stall_ms``, so that its answer is in when they have: the pod is cut off at
        ``stall_ms``, not a probe later."""
        now_ms = monotonic_ms()
        if self.cut_off:
            if self.watch.problem(now_ms) is None:
                self.cut_off = False
                self._back_at_ms = now_ms
                logger.info("Kafka takes this gateway's writes again: taking executors again")
            return probing
        unwritable_ms = self.watch.unwritable_ms(now_ms)
        suspect_ms = self.watch.stall_ms - PROBE_TIMEOUT_S * 1000
        if unwritable_ms < suspect_ms or now_ms < self._probe_after_ms:
            if probing is not None and unwritable_ms < suspect_ms:
                probing.cancel()  # writes work again: its answer no longer matters
                probing = None
            return probing
        if probing is None:
            probing = asyncio.create_task(self._probe())
        problem = self.watch.problem(now_ms)
        if problem is None or not probing.done():
            return probing
        unanswered = probing.result()
        if unanswered is not None:
            await self._go_off(f"{problem} ({unanswered})")
        else:  # the cluster answers (a broker failing over): look again in a while
            self._probe_after_ms = monotonic_ms() + PROBE_PAUSE_MS
        return None

    async def _probe(self) -> str | None:
        """Whether the cluster answers this pod (``None``) or why not, within
        ``PROBE_TIMEOUT_S``."""
        if self.probe is None:
            return "no probe"
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                return await self.probe()
        except TimeoutError:
            return f"no answer to a probe in {PROBE_TIMEOUT_S:g} s"
        except Exception as exc:  # a probe that breaks: the cluster is not known to answer
            logger.debug("the Kafka probe raised", exc_info=True)
            return f"the probe failed: {type(exc).__name__}"

    async def _go_off(self, problem: str) -> None:
        self._reason = problem
        self.cut_off = True
        logger.warning(
            "%s: unready, and closing every session in %.1f s so that executors reconnect to "
            "another gateway",
            problem,
            self._shed_delay_s,
        )
        await asyncio.sleep(self._shed_delay_s)
        if self.watch.problem(monotonic_ms()) is None:
            self.cut_off = False
            logger.info("Kafka takes this gateway's writes again before shedding: kept them")
            return
        self.sheds += 1
        await self._shed(SHED_CODE, SHED_REASON)
