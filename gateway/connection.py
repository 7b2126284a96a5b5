"""One executor's WebSocket, in the shell: feeds frames to the sans-I/O session and owns the
futures of in-flight requests (correlated by request id, each with its own timeout).

The generic request path of the gateway: recovery uses it now; list, get, cancel and fork use it
the same way.

Bounded against a hostile or stuck executor: at most ``max_pending_requests`` requests in flight
(more fail at once, never queue), every frame written within ``write_timeout_s`` (a reader that
never reads is cut, with 1008 in its disconnect record: no close frame can reach it), and every
close of ours bounded the same way, so a closing session never holds a caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as HttpRequest

from gateway.config import GatewayLimits
from gateway.protocol import (
    CLOSE_POLICY_VIOLATION,
    ExecutorSession,
    Reply,
    ReplyReceived,
    Request,
    SessionReady,
    close_reason,
)
from streams.exceptions import ProtocolError, RequestError, RequestTimeout, SessionClosed
from streams.ids import AppName, ConnId, RequestId
from streams.records import ExecutorInfo, SessionInfo

logger = logging.getLogger(__name__)

UPGRADE_RELEASED = HttpRequest(path="", headers=Headers())
"""What an admitted session keeps of its upgrade request: nothing. websockets only needs
``ServerConnection.request`` set once the handshake is done; the request and our response, with
their headers, cost 4.3 KB a session (a gateway holds thousands), and the request's path holds
the executor's API key."""


class Connection:
    """A live session with one executor."""

    def __init__(
        self,
        ws: ServerConnection,
        app: AppName,
        key_id: str,
        conn_id: ConnId,
        now_ms: int,
        limits: GatewayLimits | None = None,
    ) -> None:
        ws.request, ws.response = UPGRADE_RELEASED, None  # admitted: read no more
        self.ws = ws
        self.app = app
        self.key_id = key_id
        self.conn_id = conn_id
        self.connected_at_ms = now_ms
        self.session = ExecutorSession(conn_id)
        self._ready = False
        self._futures: dict[RequestId, asyncio.Future[Reply]] = {}
        self._closed = False
        limits = limits or GatewayLimits()
        self._write_timeout_s = limits.write_timeout_s
        self._max_pending_requests = limits.max_pending_requests
        sock = ws.transport.get_extra_info("socket")
        if sock is not None:  # a real TCP socket (always, but for exotic transports)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, limits.send_buffer_bytes)
        self._aborted: tuple[int, str] | None = None
        """The close we meant when no close frame could be written (the executor reads nothing)."""
        self.revoked = False
        """Closed because its API key was revoked."""
        self._snapshot: SessionInfo | None = None

    @property
    def info(self) -> ExecutorInfo:
        assert self.session.info is not None, "executor_info not received yet"
        return self.session.info

    def snapshot(self) -> SessionInfo:
        """The session as heartbeats list it; built once per ``executor_info`` (every heartbeat
        asks for every session's: at thousands of sessions, building it each time was a good
        part of an idle gateway's CPU)."""
        info = self.info
        if self._snapshot is None or self._snapshot.info is not info:
            self._snapshot = SessionInfo(
                info=info, conn_id=self.conn_id, connected_at_ms=self.connected_at_ms
            )
        return self._snapshot

    async def serve(
        self, handshake_timeout_s: float, on_ready: Callable[[], Awaitable[None]]
    ) -> None:
        """Send ``executor_info``; once it is answered, await ``on_ready``, then read frames until
        the socket closes (a protocol violation closes it with its code).

        All in the caller's task: a receiving task of its own per session, tied to the handler by
        a task group, cost ~1.3 KB a session, and a gateway holds thousands.

        Raises:
            RequestTimeout: no ``executor_info`` answer within ``handshake_timeout_s``.
            SessionClosed: the socket closed before the answer (or the executor read nothing).
        """
        try:
            self.session.start()
            await self._flush()
            try:
                async with asyncio.timeout(handshake_timeout_s):
                    while not self._ready:
                        if not await self._receive():
                            raise SessionClosed("the executor left before answering executor_info")
            except TimeoutError as exc:
                raise RequestTimeout(
                    f"no executor_info reply within {handshake_timeout_s} s"
                ) from exc
            await on_ready()
            while await self._receive():
                pass
        finally:
            self.close_pending()

    async def request(self, request: Request, timeout_s: float) -> Reply:
        """Send one request and wait for its reply.

        Raises:
            RequestTimeout: no reply within ``timeout_s``.
            SessionClosed: the session closed first (or the executor stopped reading).
            RequestError: ``max_pending_requests`` are already in flight to this executor.
        """
        if self._closed:
            raise SessionClosed("the executor is not connected")
        if len(self._futures) >= self._max_pending_requests:
            raise RequestError(
                f"{self._max_pending_requests} requests already in flight to this executor"
            )
        request_id = self.session.request(request)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._futures[request_id] = future
        try:
            await self._flush()
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError as exc:
            self.session.forget(request_id)
            raise RequestTimeout(f"no {request.type.value} reply within {timeout_s} s") from exc
        finally:
            self._futures.pop(request_id, None)
            if future.done() and not future.cancelled():
                # Retrieved here: the session may have failed it (``close_pending``) while the
                # request was still being sent, and nobody else will ever look at it.
                future.exception()

    async def _receive(self) -> bool:
        """Read and handle one message; False once the session is over (the socket closed, or
        we closed it for a protocol violation)."""
        try:
            message = await self.ws.recv()
            if isinstance(message, bytes):
                self.session.receive_binary()
            else:
                self.session.receive_text(message)
            self._dispatch()
            await self._flush()  # an error reply to a message of an unknown type
        except ProtocolError as exc:
            logger.warning(
                "closing executor session: %s",
                exc,
                extra={"conn_id": self.conn_id, "app": self.app, "close_code": exc.close_code},
            )
            await self.close_discarding(exc.close_code, close_reason(exc.close_code))
            return False
        except (ConnectionClosed, SessionClosed):
            return False
        return True

    async def close_discarding(self, code: int, reason: str) -> None:
        """Close when nothing else reads the session (after a violation, or a handshake that
        failed), still reading (and dropping) what the executor sent after it:
        with its receive queue full (``max_queue_frames``), websockets would stop reading the
        socket, miss the executor's answer to our close, and hold it for the close timeout."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.close(code, reason))  # its frame goes out before more is read
            with contextlib.suppress(ConnectionClosed):
                while True:  # undecoded: invalid UTF-8 must not replace our code with 1007
                    await self.ws.recv(decode=False)

    def _dispatch(self) -> None:
        for event in self.session.events_received():
            match event:
                case SessionReady():
                    self._ready = True
                case ReplyReceived():
                    self._resolve(event.reply)

    def _resolve(self, reply: Reply) -> None:
        future = self._futures.get(reply.request_id)
        if future is not None and not future.done():
            future.set_result(reply)

    def close_pending(self) -> None:
        """Fail every in-flight request: the executor can no longer answer."""
        self._closed = True
        for future in self._futures.values():
            if not future.done():
                future.set_exception(SessionClosed("the executor disconnected mid-request"))

    async def _flush(self) -> None:
        """Send what the session queued; an executor that takes none of it within
        ``write_timeout_s`` (its buffers are full: it reads nothing) is cut off.

        Raises:
            SessionClosed: the session closed, or was cut off for reading nothing.
        """
        for text in self.session.data_to_send():
            try:
                async with asyncio.timeout(self._write_timeout_s):
                    await self.ws.send(text)
            except ConnectionClosed as exc:
                raise SessionClosed("the executor disconnected") from exc
            except TimeoutError as exc:
                if self._aborted is None:  # once, whatever number of sends were waiting
                    logger.warning(
                        "closing executor session: nothing sent was read for %s s",
                        self._write_timeout_s,
                        extra={"conn_id": self.conn_id, "app": self.app},
                    )
                self._abort(CLOSE_POLICY_VIOLATION, "write timeout")
                raise SessionClosed("the executor stopped reading") from exc

    async def close(self, code: int, reason: str) -> None:
        """Close the session with ``code``, waiting at most ``write_timeout_s`` plus the close
        timeout: a close frame an executor never reads must not hold the caller."""
        close_timeout_s = self.ws.close_timeout or 0.0
        try:
            async with asyncio.timeout(self._write_timeout_s + close_timeout_s):
                await self.ws.close(code, reason)
        except TimeoutError:
            self._abort(code, reason)

    def _abort(self, code: int, reason: str) -> None:
        """Drop the TCP connection at once, remembering the close we meant for the records."""
        if self._aborted is None:
            self._aborted = (code, reason)
        self.ws.transport.abort()

    def close_details(self) -> tuple[int, str]:
        """The close code and reason of the session: the one sent first wins (ours when we
        failed the connection, e.g. 1009; the executor's when it closed); 1006 when no close
        frame was exchanged (the TCP link dropped), unless we cut an executor that read nothing."""
        protocol = self.ws.protocol
        if self._aborted is not None and protocol.close_rcvd is None:
            return self._aborted
        first = protocol.close_rcvd if protocol.close_rcvd_then_sent else protocol.close_sent
        close = first or protocol.close_rcvd or protocol.close_sent
        if close is None:
            return 1006, "connection lost"
        return close.code, close.reason
