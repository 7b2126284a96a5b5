"""Live questions to executors over Kafka: the console's ``LiveExecutors`` (its aiokafka adapter).

A question is an ``ExecutorRequest`` on the commands topic, keyed by the target executor (every
gateway pod follows that topic and the one holding the executor asks it); the answer is an
``ExecutorReply`` on the replies topic, which this process follows from its end (no consumer group:
every console sees every reply and keeps those it waits for). The target is the connected executor
of the app the store saw most recently.

A ``runtime.lifecycle.Service``: the console's lifespan starts it (producer, consumer, then the
reply reader, a loop whose death fails the console) and stops it in reverse.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from broker.admin import topic_partitions
from broker.idempotence import ProducerSlot, acknowledged
from management.channel import LiveUnavailable, NoLiveExecutor
from management.targets import connected_executors
from runtime.clock import wall_ms
from runtime.lifecycle import Service
from runtime.metrics import ErrorKind, Metrics
from store.database import Store
from streams.codec import decode, encode, record_key
from streams.exceptions import ExecutorFailed, RecordError, RequestTimeout
from streams.ids import AppName, ExecutorId, GatewayId, RequestId, WorkflowId
from streams.records import (
    ExecutorReply,
    ExecutorRequest,
    OperatorAction,
    RequestKind,
    StepInfo,
    WorkflowDeleted,
    WorkflowStatus,
)
from streams.topics import Topics

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_MS = 40_000
"""The producer's request timeout (aiokafka's default), and the longest a publish waits for the
broker's acknowledgement (an idempotent producer's batches never expire: ``broker.idempotence``)."""


class KafkaLiveExecutors(Service):
    """``LiveExecutors`` and ``CommandChannel`` through Kafka and the gateways. A service: use it
    as an async context manager (or hand it to the console's lifespan)."""

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        store: Store,
        *,
        timeout_s: float,
        metrics: Metrics | None = None,
        idempotent_producer: bool = False,
    ) -> None:
        super().__init__("console channel")
        self._metrics = Metrics("console") if metrics is None else metrics
        self._bootstrap = bootstrap
        self._topics = topics
        self._store = store
        self._timeout_s = timeout_s
        self._producer = ProducerSlot(
            lambda: AIOKafkaProducer(
                bootstrap_servers=bootstrap,
                client_id="baton-console",
                acks="all",
                # Only where the broker grants a producer id (the role's probe,
                # broker.idempotence; the slot replaces one the broker no longer takes).
                enable_idempotence=idempotent_producer,
                linger_ms=0,
                request_timeout_ms=REQUEST_TIMEOUT_MS,
            )
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id="baton-console",
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
            auto_offset_reset="latest",
        )
        self._waiting: dict[RequestId, asyncio.Future[ExecutorReply]] = {}

    async def _start(self, stack: AsyncExitStack) -> None:
        await self._producer.start()
        stack.push_async_callback(self._producer.stop)  # whichever producer is current then
        stack.push_async_callback(self._consumer.stop)  # also after a failed start
        await self._consumer.start()
        assigned = await topic_partitions(self._bootstrap, self._topics.replies)
        self._consumer.assign(assigned)
        await self._consumer.seek_to_end(*assigned)
        self.tasks.loop("replies", self._read_replies())

    async def get_workflow(
        self, app: AppName, workflow_id: WorkflowId, *, payloads_private: bool
    ) -> WorkflowStatus | None:
        reply = await self._ask(app, RequestKind.GET_WORKFLOW, workflow_id, payloads_private)
        return reply.workflow

    async def list_steps(
        self, app: AppName, workflow_id: WorkflowId, *, payloads_private: bool
    ) -> tuple[StepInfo, ...] | None:
        reply = await self._ask(app, RequestKind.LIST_STEPS, workflow_id, payloads_private)
        return reply.steps

    async def send(self, request: ExecutorRequest, wait_s: float) -> ExecutorReply | None:
        future: asyncio.Future[ExecutorReply] = asyncio.get_running_loop().create_future()
        self._waiting[request.request_id] = future
        sent = time.monotonic()
        outcome = "unavailable"
        try:
            await self._publish(self._topics.commands, encode(request), record_key(request))
            reply = await asyncio.wait_for(future, wait_s)
        except KafkaError as exc:
            raise LiveUnavailable(f"the broker is unreachable: {exc}") from exc
        except TimeoutError:
            outcome = "timeout"
            return None
        else:
            outcome = "ok" if reply.ok else (reply.failure or "failed")
            return reply
        finally:
            self._waiting.pop(request.request_id, None)
            self._metrics.command_round_trip_seconds.labels(
                kind=request.kind.value, outcome=outcome
            ).observe(time.monotonic() - sent)

    async def _publish(self, topic: str, value: bytes, key: bytes | None) -> None:
        """Write one record and wait for the broker; counted (``baton_events_published``)."""
        producer = self._producer.current
        try:
            future = await producer.send(topic, value, key=key)
            await acknowledged([future], timeout_s=REQUEST_TIMEOUT_MS / 1000)
        except KafkaError as exc:
            self._metrics.error(ErrorKind.PUBLISH)
            await self._producer.failed(producer, exc)
            raise
        self._metrics.events_published.labels(topic=topic).inc()

    async def publish_audit(self, record: OperatorAction) -> None:
        try:
            await self._publish(self._topics.audit, encode(record), record_key(record))
        except KafkaError as exc:
            raise LiveUnavailable(f"the broker is unreachable: {exc}") from exc

    async def publish_deletions(self, records: Sequence[WorkflowDeleted]) -> None:
        producer = self._producer.current
        try:
            futures = [
                await producer.send(
                    self._topics.workflow_events, encode(record), key=record_key(record)
                )
                for record in records
            ]
            await acknowledged(futures, timeout_s=REQUEST_TIMEOUT_MS / 1000)
            self._metrics.events_published.labels(topic=self._topics.workflow_events).inc(
                len(records)
            )
        except KafkaError as exc:
            self._metrics.error(ErrorKind.PUBLISH)
            await self._producer.failed(producer, exc)
            raise LiveUnavailable(f"the broker is unreachable: {exc}") from exc

    async def _ask(
        self, app: AppName, kind: RequestKind, workflow_id: WorkflowId, payloads_private: bool
    ) -> ExecutorReply:
        target, gateway = await self._target(app)
        request = ExecutorRequest(
            request_id=RequestId(uuid.uuid4().hex),
            app=app,
            target=target,
            target_gateway=gateway,
            kind=kind,
            workflow_id=workflow_id,
            issued_at_ms=wall_ms(),
            timeout_ms=int(self._timeout_s * 1000),
            payloads_private=payloads_private,
        )
        # The gateway gives the executor the same timeout: wait a little longer for its word.
        reply = await self.send(request, self._timeout_s + 0.25)
        if reply is None:
            raise RequestTimeout(f"no answer from executor {target} within {self._timeout_s} s")
        if not reply.ok:
            raise ExecutorFailed(reply.error or "the executor could not answer")
        return reply

    async def _target(self, app: AppName) -> tuple[ExecutorId, GatewayId]:
        targets = await connected_executors(self._store, app)
        if not targets:
            raise NoLiveExecutor(f"no executor of app {app} is connected")
        return targets[0].executor_id, targets[0].gateway

    async def _read_replies(self) -> None:
        async for message in self._consumer:
            self._metrics.consumed(
                message.topic,
                message.partition,
                message.offset,
                self._consumer.highwater(TopicPartition(message.topic, message.partition)),
            )
            try:
                record = decode(message.value)
            except RecordError:
                self._metrics.error(ErrorKind.DECODE)
                continue
            if not isinstance(record, ExecutorReply):
                continue
            future = self._waiting.get(record.request_id)
            if future is not None and not future.done():
                future.set_result(record)
