"""The gateway pod: accepts executors, reports them to Kafka, delivers commands to them.

Lifecycle (HOUSE_STYLE §6, ``runtime.lifecycle.Service``): on stop it refuses new handshakes
(503), closes every session with 1001 while marking the disconnects as ``draining`` (so the
recovery agent waits for the executors to reconnect to another pod instead of recovering them),
gives the commands in flight ``COMMAND_DRAIN_S`` to report their outcome, then flushes Kafka. A
background loop that dies fails the pod (``failed``), so that its role exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import time
import uuid
import weakref
from collections import OrderedDict
from contextlib import AsyncExitStack

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response as HttpResponse

from broker.reachability import kafka_check
from gateway.auth import Credentials, KeyVerifier, parse_path
from gateway.config import GatewayConfig
from gateway.connection import Connection
from gateway.drain import LiveSessions
from gateway.kafka import CommandFeed, KafkaSink
from gateway.kafka_watchdog import KafkaWatchdog
from gateway.keepalive import KeepaliveConnection, KeepaliveSweeper
from gateway.lookups import WorkflowLookups
from gateway.management import MANAGEMENT_KINDS
from gateway.operations import RequestAnswerer, WorkflowOperator
from gateway.outbox import SessionOutbox
from gateway.polling import CapturePoller
from gateway.protocol import recovery_request, recovery_succeeded
from gateway.registry import SessionRegistry
from gateway.session_events import SessionEvents
from runtime.admission import HandshakeAdmission, Verdict, forwarded_client, source_of
from runtime.clock import wall_ms
from runtime.lifecycle import Service
from runtime.listener import stop_accepting
from runtime.log_throttle import LogThrottle
from runtime.metrics import (
    EXECUTORS_CONNECTED,
    ErrorKind,
    Metrics,
    Samples,
    close_code_label,
)
from runtime.probes_http import ProbeRoutes, metrics_route
from streams.exceptions import (
    AuthError,
    ConductorError,
    PublishError,
    RequestError,
    ServiceNotRunning,
)
from streams.heartbeats import heartbeats, logs_reset
from streams.ids import AppName, CommandId, ConnId
from streams.records import (
    CommandProgress,
    CommandStatus,
    ExecutorConnected,
    ExecutorDisconnected,
    ExecutorReply,
    ExecutorRequest,
    ListSessions,
    PollWorkflows,
    Record,
    RecoverExecutor,
    ReplyFailure,
)

logger = logging.getLogger(__name__)

ExecutorCommand = RecoverExecutor | PollWorkflows | ExecutorRequest
"""The commands carried out on one executor (the others address the pod itself)."""

COMMAND_DRAIN_S = 5.0
"""How long a stopping pod lets the commands in flight report their outcome (their sessions are
closed by then, so they fail at once and only publish) before cancelling them."""


class Gateway(Service):
    """One gateway pod: ``async with Gateway(config, keys) as gateway``.

    Besides executors' WebSocket upgrades, its port answers plain HTTP ``GET /metrics``,
    ``/healthz`` and ``/readyz`` (``probes``), anonymously: metrics name apps and versions,
    nothing secret.
    """

    def __init__(
        self,
        config: GatewayConfig,
        keys: KeyVerifier,
        probes: ProbeRoutes | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__("gateway", drain_timeout_s=COMMAND_DRAIN_S)
        self.config = config
        self.metrics = Metrics("gateway") if metrics is None else metrics
        self.metrics.add_snapshot([EXECUTORS_CONNECTED], self._connected_samples)
        self._keys = keys
        self._probes = probes or ProbeRoutes()
        self._probes.add("/metrics", metrics_route(self.metrics))
        self._registry = SessionRegistry()
        self._admission = HandshakeAdmission(config.admission)
        self._refusals = LogThrottle(window_ms=int(config.refusal_log_interval_s * 1000))
        self._store_errors = LogThrottle()
        # Held weakly: websockets may still refuse a handshake after _admit accepted it.
        self._admitted: weakref.WeakKeyDictionary[ServerConnection, tuple[Credentials, str]] = (
            weakref.WeakKeyDictionary()
        )
        self._seen_commands: OrderedDict[CommandId, None] = OrderedDict()
        self.watchdog = KafkaWatchdog(
            self._shed,
            probe=kafka_check(config.kafka_bootstrap, [t.name for t in config.topics.specs()]),
            stall_ms=config.kafka_stall_ms,
        )
        """Unready, and sheds the sessions, while Kafka does not take this pod's writes."""
        self._listed_at_ms: dict[AppName, int] = {}
        self._beat_offsets: dict[AppName, int] = {}
        """Each app's newest beat offset: a lower one means the log was reset (``logs_reset``)."""
        """When each app's sessions were last listed in a heartbeat (``streams.heartbeats``)."""
        self._sink = KafkaSink(
            config.kafka_bootstrap,
            client_id=f"baton-gateway-{config.gateway_id}",
            metrics=self.metrics,
            watch=self.watchdog.watch,
            idempotent=config.idempotent_producer,
        )
        self.session_events = SessionEvents(
            self._sink,
            config.topics.executor_events,
            outbox=SessionOutbox(config.session_outbox_max_records),
            on_dropped=self._list_soon,
        )
        """Connects and disconnects, written in order and retried until Kafka takes them."""
        self._feed = CommandFeed(
            config.kafka_bootstrap,
            config.topics.commands,
            client_id=f"baton-gw-{config.gateway_id}",
            metrics=self.metrics,
        )
        self._poller = CapturePoller(
            self._sink,
            config.topics,
            config.gateway_id,
            request_timeout_s=config.observation_request_timeout_s,
        )
        self._lookups = WorkflowLookups(self._sink, config.topics, config.gateway_id)
        self._operator = WorkflowOperator(config.gateway_id)
        self._keepalive = KeepaliveSweeper(config.ping_interval_s, config.ping_timeout_s)
        self._live = LiveSessions()
        self._server: Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        assert self._server is not None, "gateway not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _start(self, stack: AsyncExitStack) -> None:
        stack.callback(logger.info, "gateway %s stopped", self.config.gateway_id)  # last
        await stack.enter_async_context(self._sink)
        # Unwound before the sink stops (after the loops): the last tries at the session events.
        stack.push_async_callback(self.session_events.drain)
        await stack.enter_async_context(self._feed)
        limits = self.config.limits
        tls = self.config.tls
        self._server = await serve(
            self._handle,
            self.config.host,
            self.config.port,
            create_connection=KeepaliveConnection,
            process_request=self._admit,
            open_timeout=limits.open_timeout_s,
            ping_interval=None,  # one sweeper pings every session (gateway.keepalive)
            ping_timeout=None,
            close_timeout=limits.close_timeout_s,
            max_size=limits.max_message_bytes,
            max_queue=limits.max_queue_frames,
            write_limit=limits.write_limit_bytes,
            compression="deflate" if limits.compression else None,
            ssl=None if tls is None else tls.server_context(),
        )
        self.tasks.loop("session events", self.session_events.run())
        self.tasks.loop("keepalive", self._keepalive.run())
        self.tasks.loop("heartbeats", self._heartbeat_loop())
        self.tasks.loop("commands", self._command_loop())
        self.tasks.loop("revocations", self._revocation_loop())
        if self.config.shed_when_cut_off:
            self.tasks.loop("kafka watchdog", self.watchdog.run())
        logger.info(
            "gateway %s listening on %s://%s:%d",
            self.config.gateway_id,
            "ws" if tls is None else "wss",
            self.config.host,
            self.port,
            extra={"gateway": self.config.gateway_id},
        )

    async def _stop_accepting(self) -> None:
        """Refuse new handshakes (503: ``stopping`` is true), close every session with 1001 at
        once (``gateway.drain``; those still open after the close timeout are dropped) and wait
        for their handlers. Their disconnects, marked ``draining``, go through the session-event
        outbox, written in batches as they close; the stop's last tries write what is left."""
        if self._server is None:
            return
        started = time.monotonic()
        # Connections accepted just now get their transports (and a 503) before the listener
        # closes, instead of staying open unattached until the garbage collector finds them.
        await stop_accepting(self._server.sockets)
        self._server.close(close_connections=False)
        held = len(self._registry.all())
        logger.info("gateway %s draining %d sessions", self.config.gateway_id, held)
        drained = await self._live.close_all(1001, "", self.config.limits.close_timeout_s)
        await self._server.wait_closed()
        logger.info(
            "gateway %s drained %d sessions in %.1f s (%d dropped at the close timeout); "
            "%d session events still to write",
            self.config.gateway_id,
            drained.closed,
            time.monotonic() - started,
            drained.dropped,
            self.session_events.held,
            extra={"sessions": drained.closed, "dropped": drained.dropped, "held": held},
        )

    def liveness(self) -> str | None:
        """``None`` while the pod's loops run, else what failed (for ``/healthz``)."""
        if self.failure is not None:
            return f"the gateway failed: {self.failure}"
        return None

    # -- admission -------------------------------------------------------------------------

    def _connected_samples(self) -> dict[str, Samples]:
        """``baton_executors_connected``: this pod's sessions by app and version."""
        counts: dict[tuple[str, ...], float] = {}
        for conn in self._registry.all():
            labels = (conn.app, conn.info.application_version, self.config.gateway_id)
            counts[labels] = counts.get(labels, 0) + 1
        return {EXECUTORS_CONNECTED.name: counts}

    async def _admit(self, ws: ServerConnection, request: HttpRequest) -> HttpResponse | None:
        probe = self._probes.route(request.path)
        if probe is not None:
            # Plain HTTP (health, readiness): answered before admission, never counted in it.
            answer = await probe()
            headers = Headers(
                [("Content-Type", answer.content_type), ("Cache-Control", "no-store")]
            )
            headers["Content-Length"] = str(len(answer.body))
            phrase = http.HTTPStatus(answer.status).phrase
            return HttpResponse(answer.status, phrase, headers, answer.body)
        if self.stopping:
            return ws.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "Gateway is shutting down.\n")
        if self.watchdog.cut_off:
            return ws.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "Gateway cannot reach Kafka.\n")
        credentials = parse_path(request.path)
        if credentials is None:
            return ws.respond(
                http.HTTPStatus.NOT_FOUND, "Connect to .../websocket/{app_name}/{api_key}.\n"
            )
        source = self._source(ws, request)
        verdict = self._admission.begin(source, wall_ms())
        if verdict is not Verdict.CHECK:
            return self._too_many(ws, source, credentials, verdict)
        try:
            key_id = await self._keys.verify(credentials.app, credentials.key)
        except AuthError as exc:
            self._admission.failed(source, wall_ms())
            self._log_refusal(source, credentials, str(exc))
            return ws.respond(http.HTTPStatus.FORBIDDEN, "Invalid API key for this app.\n")
        except Exception:
            # The key store is unreachable: the executor retries every second, so say "later".
            self.metrics.error(ErrorKind.STORE)
            if self._store_errors.should_log("key store", wall_ms()):
                logger.exception(
                    "could not check an executor key; answering 503 (logged once a minute)"
                )
            return ws.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "Try again shortly.\n")
        finally:
            self._admission.done(source)
        self._admitted[ws] = (credentials, key_id)
        return None

    def _source(self, ws: ServerConnection, request: HttpRequest) -> str:
        """Who failed handshakes are counted against (``runtime.admission``)."""
        header = self.config.client_address_header
        forwarded = None if header is None else forwarded_client(request.headers.get_all(header))
        peer = ws.remote_address[0] if ws.remote_address else ""
        return source_of(forwarded or str(peer))

    def _too_many(
        self, ws: ServerConnection, source: str, credentials: Credentials, verdict: Verdict
    ) -> HttpResponse:
        """Refuse without a key check: the source failed too often, or checks too many at once."""
        retry_s = max(1, -(-self._admission.blocked_for_ms(source, wall_ms()) // 1000))
        self._log_refusal(source, credentials, f"refused without a key check ({verdict.value})")
        response = ws.respond(
            http.HTTPStatus.TOO_MANY_REQUESTS, "Too many handshakes from this address.\n"
        )
        response.headers["Retry-After"] = str(retry_s)
        return response

    def _log_refusal(self, source: str, credentials: Credentials, reason: str) -> None:
        """One line per source per interval (a minute), counting its refusals since the last."""
        now_ms = wall_ms()
        if not self._refusals.should_log(source, now_ms):
            return
        refused = self._admission.take_refused(source)
        blocked_s = round(self._admission.blocked_for_ms(source, now_ms) / 1000)
        logger.warning(
            "refused %d executor handshake(s) from %s since the last line%s; the latest for app "
            "%s with key %s: %s",
            refused,
            source,
            f" (blocked for {blocked_s} s)" if blocked_s else "",
            credentials.app,
            credentials.fingerprint,
            reason,
            extra={
                "source": source,
                "refused": refused,
                "blocked_s": blocked_s,
                "app": credentials.app,
                "key_fingerprint": credentials.fingerprint,
            },
        )

    # -- sessions --------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        assert isinstance(ws, KeepaliveConnection)
        self._keepalive.add(ws)
        self._live.add(ws)
        try:
            await self._serve_session(ws)
        finally:
            self._keepalive.remove(ws)
            self._live.discard(ws)

    async def _serve_session(self, ws: ServerConnection) -> None:
        credentials, key_id = self._admitted.pop(ws)
        conn = Connection(
            ws,
            AppName(credentials.app),
            key_id,
            ConnId(uuid.uuid4().hex[:16]),
            wall_ms(),
            self.config.limits,
        )
        opened = False

        async def open_session() -> None:
            nonlocal opened
            opened = True
            self._note_use(conn)
            await self._on_ready(conn)

        try:
            # One task per session, the handler's own (``Connection.serve``).
            await conn.serve(self.config.limits.handshake_timeout_s, open_session)
        except ConductorError as exc:
            if opened:
                raise
            self.metrics.error(ErrorKind.HANDSHAKE)
            logger.warning("executor handshake failed: %s", exc, extra={"app": conn.app})
            await conn.close_discarding(1008, "executor_info not answered")
        finally:
            if opened:
                await self._on_closed(conn)

    def _note_use(self, conn: Connection) -> None:
        """Record the key's use beside the session (a job of the gateway's), never in its way."""
        with contextlib.suppress(ServiceNotRunning):  # stopping: the next start records it
            self.tasks.job(f"key use {conn.conn_id}", self._record_use(conn))

    async def _record_use(self, conn: Connection) -> None:
        """Note the key's use (its last-used time)."""
        try:
            await self._keys.record_use(conn.key_id, wall_ms())
        except Exception:
            self.metrics.error(ErrorKind.STORE)
            if self._store_errors.should_log("key use", wall_ms()):
                logger.exception("could not record a key's use (logged once a minute)")

    async def _on_ready(self, conn: Connection) -> None:
        self.metrics.sessions_opened.inc()
        replaced = self._registry.add(conn)
        if replaced is not None:
            await replaced.close(1008, "superseded by a newer session of this executor")
        logger.info(
            "executor %s connected (app %s, version %s)",
            conn.info.executor_id,
            conn.app,
            conn.info.application_version,
            extra={"executor_id": conn.info.executor_id, "conn_id": conn.conn_id, "app": conn.app},
        )
        self.session_events.put(
            ExecutorConnected(
                app=conn.app,
                gateway=self.config.gateway_id,
                session=conn.snapshot(),
                ts_ms=wall_ms(),
            )
        )

    async def _on_closed(self, conn: Connection) -> None:
        close_code, close_reason = conn.close_details()
        self.metrics.sessions_closed.labels(code=close_code_label(close_code)).inc()
        if not self._registry.remove(conn, wall_ms()):
            return  # superseded: the newer session is the executor now
        logger.log(
            logging.DEBUG if self.stopping else logging.INFO,  # a drain logs one line
            "executor %s disconnected (close code %s)",
            conn.info.executor_id,
            close_code,
            extra={"executor_id": conn.info.executor_id, "conn_id": conn.conn_id, "app": conn.app},
        )
        self.session_events.put(
            ExecutorDisconnected(
                app=conn.app,
                gateway=self.config.gateway_id,
                executor_id=conn.info.executor_id,
                conn_id=conn.conn_id,
                close_code=close_code,
                close_reason=close_reason[:256],
                # A shed session reconnects elsewhere, as a stopping pod's does.
                draining=self.stopping or self.watchdog.cut_off,
                revoked=conn.revoked,
                ts_ms=wall_ms(),
            )
        )

    async def _publish_event(self, record: Record) -> None:
        try:
            await self._sink.publish(self.config.topics.executor_events, record)
        except PublishError as exc:
            # Not in the executors' critical path: the next heartbeat lists the app's sessions,
            # which heals the table.
            self._list_soon({record.app})
            logger.warning("could not publish %s: %s", record.type.value, exc)

    def _list_soon(self, apps: frozenset[AppName] | set[AppName]) -> None:
        """List these apps' sessions in the next heartbeat."""
        for app in apps:
            self._listed_at_ms.pop(app, None)

    # -- background loops ------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        window_ms = int(self.config.empty_heartbeat_window_s * 1000)
        listing_ms = int(self.config.heartbeat_listing_interval_s * 1000)
        while True:
            ts = wall_ms()
            beats: list[Record] = []
            listed: list[AppName] = []
            held = self._registry.snapshots_by_app(ts, window_ms)
            for gone in self._listed_at_ms.keys() - held.keys():
                del self._listed_at_ms[gone]
            for gone in self._beat_offsets.keys() - held.keys():
                del self._beat_offsets[gone]
            for app, sessions in held.items():
                listing = ts - self._listed_at_ms.get(app, ts - listing_ms) >= listing_ms
                hold = self.session_events.holds(app)  # list once they are written
                records = heartbeats(
                    app, self.config.gateway_id, sessions, ts, listing=listing, hold_listing=hold
                )
                beats.extend(records)
                if listing and not hold:
                    listed.append(app)
            if beats and self.watchdog.quiet():
                self._listed_at_ms.clear()  # list everything once the pod may speak again
            elif beats:
                try:
                    offsets = await self._sink.publish_batch(
                        self.config.topics.executor_events, beats
                    )
                except PublishError as exc:
                    self._listed_at_ms.clear()  # list everything once the broker is back
                    logger.warning("could not publish heartbeats: %s", exc)
                else:
                    self._listed_at_ms.update(dict.fromkeys(listed, ts))
                    self._relist_reset_logs(beats, offsets)
                    self.session_events.retry_now()  # Kafka is back: no need to wait
            await asyncio.sleep(self.config.heartbeat_interval_s)

    def _relist_reset_logs(self, beats: list[Record], offsets: list[int]) -> None:
        written = [(b.app, o) for b, o in zip(beats, offsets, strict=True) if b.app is not None]
        self._beat_offsets, reset = logs_reset(self._beat_offsets, written)
        for app in reset:
            logger.info("the broker's log of app %s was reset: listing its sessions", app)
            self._listed_at_ms.pop(app, None)

    async def _revocation_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.revocation_check_interval_s)
            conns = self._registry.all()
            if not conns:
                continue
            try:
                unusable = await self._keys.unusable({c.key_id for c in conns})
            except Exception:
                self.metrics.error(ErrorKind.STORE)
                if self._store_errors.should_log("key revocations", wall_ms()):
                    logger.exception("could not check key revocations (logged once a minute)")
                continue
            # Together: each close waits for the executor's side of the close handshake.
            await asyncio.gather(
                *(self._lock_out(c, unusable[c.key_id]) for c in conns if c.key_id in unusable)
            )

    async def _shed(self, code: int, reason: str) -> None:
        """Close every session (``gateway.kafka_watchdog``): their executors reconnect to a pod
        that reaches Kafka."""
        conns = self._registry.all()
        logger.warning("closing %d sessions with %d: %s", len(conns), code, reason)
        await asyncio.gather(*(conn.close(code, reason) for conn in conns))

    async def _lock_out(self, conn: Connection, why: str) -> None:
        """Close a session whose key was revoked or has expired (a lock-out, not a death)."""
        logger.info("closing session of %s key %s", why, conn.key_id, extra={"app": conn.app})
        conn.revoked = True
        await conn.close(1008, f"API key {why}")

    async def _command_loop(self) -> None:
        async for command in self._feed.commands():
            match command:
                case ListSessions():
                    self._listing_asked(command)
                case _:
                    await self._take_command(command)

    async def _take_command(self, command: ExecutorCommand) -> None:
        command_id = _command_id(command)
        if command_id in self._seen_commands:
            return  # delivered twice: act once
        conn = self._registry.get(command.app, command.target)
        self._remember(command_id)
        if conn is None:
            if command.target_gateway == self.config.gateway_id:
                await self._not_here(command)
            return
        self.tasks.job(command_id, self._run_command(conn, command))

    def _listing_asked(self, command: ListSessions) -> None:
        """A worker found this pod's digest of an app at odds with its table (``recovery.digest``):
        list the app's sessions in the next heartbeat. Idempotent: a duplicate lists once more."""
        if command.gateway != self.config.gateway_id:
            return
        logger.info(
            "listing the sessions of app %s in the next heartbeat, as a worker asked",
            command.app,
            extra={"app": command.app, "command_id": command.command_id},
        )
        self._list_soon({command.app})

    async def _run_command(self, conn: Connection, command: ExecutorCommand) -> None:
        """Carry out one command. A bug or an executor reply nobody foresaw fails this command
        (reported like any failure), never the pod."""
        try:
            match command:
                case RecoverExecutor():
                    await self._deliver(conn, command)
                case PollWorkflows():
                    await self._publish_event(await self._poll(conn, command))
                case ExecutorRequest():
                    await self._publish_reply(await self._answerer(command).answer(conn, command))
        except Exception:
            self.metrics.error(ErrorKind.COMMAND)
            logger.exception(
                "command %s failed unexpectedly", _command_id(command), extra={"app": command.app}
            )
            await self._not_here(
                command,
                reason="the gateway failed to carry out the command",
                failure=ReplyFailure.GATEWAY_ERROR,
            )

    async def _not_here(
        self,
        command: ExecutorCommand,
        reason: str = "target not connected here",
        failure: ReplyFailure = ReplyFailure.NOT_CONNECTED,
    ) -> None:
        """Report a command this pod cannot carry out (by default: it names this pod but the
        executor has left it), so its issuer need not wait for a timeout. ``failure`` is what
        the reply to an ``ExecutorRequest`` says."""
        match command:
            case RecoverExecutor():
                await self._progress(command, CommandStatus.FAILED, reason)
            case PollWorkflows():
                await self._publish_event(self._poller.failed_poll(command, reason))
            case ExecutorRequest():
                reply = self._answerer(command).failed_answer(command, reason, failure)
                await self._publish_reply(reply)

    def _answerer(self, request: ExecutorRequest) -> RequestAnswerer:
        """Management kinds are carried out by the operator, the others are lookups."""
        return self._operator if request.kind in MANAGEMENT_KINDS else self._lookups

    async def _publish_reply(self, reply: ExecutorReply) -> None:
        try:
            await self._sink.publish(self.config.topics.replies, reply)
        except PublishError as exc:
            logger.warning("could not publish a reply to the console: %s", exc)

    def _remember(self, command_id: str) -> None:
        self._seen_commands[CommandId(command_id)] = None
        while len(self._seen_commands) > 10_000:
            self._seen_commands.popitem(last=False)

    async def _deliver(self, conn: Connection, command: RecoverExecutor) -> None:
        """DBOS conductor ``recovery`` verb on the target, reporting each step to Kafka."""
        logger.info(
            "asking %s to recover executor %s",
            command.target,
            command.dead_executor_id,
            extra={
                "command_id": command.command_id,
                "app": command.app,
                "executor_id": command.dead_executor_id,
                "target": command.target,
            },
        )
        async with asyncio.TaskGroup() as tasks:
            # The request goes out while ``sent`` is published: waiting for that report's acks
            # (all in-sync replicas) first put a broker round trip on every recovery's path.
            # The outcome is published after it, so the recovery agent sees them in order.
            tasks.create_task(self._progress(command, CommandStatus.SENT, None))
            status, error = await self._recover_on(conn, command)
        await self._progress(command, status, error)

    async def _recover_on(
        self, conn: Connection, command: RecoverExecutor
    ) -> tuple[CommandStatus, str | None]:
        """Ask ``conn``'s executor to recover the dead one's workflows; the outcome to report."""
        sent = time.monotonic()
        try:
            reply = await conn.request(
                recovery_request([command.dead_executor_id]), command.timeout_ms / 1000
            )
        except RequestError as exc:
            self._round_trip("recover", "failed", sent)
            return CommandStatus.FAILED, str(exc)
        succeeded = recovery_succeeded(reply)
        self._round_trip("recover", "ok" if succeeded else "failed", sent)
        # A state change of the recovery (once per try): with the "asking" line above it shows
        # whether a recovery left in flight was answered here at all.
        logger.info(
            "%s answered the recovery of executor %s after %.3f s: success=%s",
            command.target,
            command.dead_executor_id,
            time.monotonic() - sent,
            succeeded,
            extra={"command_id": command.command_id, "app": command.app},
        )
        if succeeded:
            return CommandStatus.SUCCEEDED, None
        return CommandStatus.FAILED, reply.error_message or "the executor answered success=false"

    async def _poll(self, conn: Connection, command: PollWorkflows) -> Record:
        """A capture poll of ``conn``, timed (``baton_command_round_trip_seconds``)."""
        sent = time.monotonic()
        result = await self._poller.poll(conn, command)
        self._round_trip("poll", "ok" if result.ok else "failed", sent)
        return result

    def _round_trip(self, kind: str, outcome: str, sent: float) -> None:
        self.metrics.command_round_trip_seconds.labels(kind=kind, outcome=outcome).observe(
            time.monotonic() - sent
        )

    async def _progress(
        self, command: RecoverExecutor, status: CommandStatus, error: str | None
    ) -> None:
        await self._publish_event(
            CommandProgress(
                app=command.app,
                command_id=command.command_id,
                gateway=self.config.gateway_id,
                executor_id=command.target,
                status=status,
                error=error,
                ts_ms=wall_ms(),
            )
        )


def _command_id(command: ExecutorCommand) -> str:
    match command:
        case ExecutorRequest():
            return command.request_id
        case _:
            return command.command_id
