"""One executor's WebSocket, in the shell: feeds frames to the sans-I/O session and owns the
futures of in-flight requests (correlated by request id, each with its own timeout).

The generic request path of the gateway: recovery uses it now; list, get, cancel and fork use it
the same way.
"""

from __future__ import annotations

import asyncio
import logging

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from gateway.protocol import (
    ExecutorSession,
    Reply,
    ReplyReceived,
    Request,
    SessionReady,
)
from runtime.lifecycle import first_of
from streams.exceptions import ProtocolError, RequestTimeout, SessionClosed
from streams.ids import AppName, ConnId, RequestId
from streams.records import ExecutorInfo, SessionInfo

logger = logging.getLogger(__name__)


class Connection:
    """A live session with one executor."""

    def __init__(
        self, ws: ServerConnection, app: AppName, key_id: str, conn_id: ConnId, now_ms: int
    ) -> None:
        self.ws = ws
        self.app = app
        self.key_id = key_id
        self.conn_id = conn_id
        self.connected_at_ms = now_ms
        self.session = ExecutorSession(conn_id)
        self.ready = asyncio.Event()
        self._ended = asyncio.Event()
        self._futures: dict[RequestId, asyncio.Future[Reply]] = {}
        self._closed = False
        self.revoked = False
        """Closed because its API key was revoked."""

    @property
    def info(self) -> ExecutorInfo:
        assert self.session.info is not None, "executor_info not received yet"
        return self.session.info

    def snapshot(self) -> SessionInfo:
        return SessionInfo(
            info=self.info, conn_id=self.conn_id, connected_at_ms=self.connected_at_ms
        )

    async def handshake(self, timeout_s: float) -> ExecutorInfo:
        """Send ``executor_info`` and wait for the answer (run ``receive_loop`` alongside).

        Raises:
            RequestTimeout: no answer within ``timeout_s``.
            SessionClosed: the socket closed first.
        """
        self.session.start()
        await self._flush()
        await first_of(self.ready.wait(), self._ended.wait(), timeout_s=timeout_s)
        if self.ready.is_set():
            return self.info
        if self._ended.is_set():
            raise SessionClosed("the executor left before answering executor_info")
        raise RequestTimeout(f"no executor_info reply within {timeout_s} s")

    async def request(self, request: Request, timeout_s: float) -> Reply:
        """Send one request and wait for its reply.

        Raises:
            RequestTimeout: no reply within ``timeout_s``.
            SessionClosed: the session closed first.
        """
        if self._closed:
            raise SessionClosed("the executor is not connected")
        request_id = self.session.request(request)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._futures[request_id] = future
        try:
            await self._flush()
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError as exc:
            self.session.forget(request_id)
            raise RequestTimeout(f"no {request.type.value} reply within {timeout_s} s") from exc
        except ConnectionClosed as exc:
            raise SessionClosed("the executor disconnected mid-request") from exc
        finally:
            self._futures.pop(request_id, None)

    async def receive_loop(self) -> None:
        """Read frames until the socket closes; a protocol violation closes it with its code."""
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    self.session.receive_binary()
                else:
                    self.session.receive_text(message)
                self._dispatch()
        except ProtocolError as exc:
            logger.warning(
                "closing executor session: %s",
                exc,
                extra={"conn_id": self.conn_id, "app": self.app, "close_code": exc.close_code},
            )
            await self.ws.close(exc.close_code, str(exc))
        except ConnectionClosed:
            pass
        finally:
            self._ended.set()
            self.close_pending()

    def _dispatch(self) -> None:
        for event in self.session.events_received():
            match event:
                case SessionReady():
                    self.ready.set()
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
        for text in self.session.data_to_send():
            await self.ws.send(text)

    def close_details(self) -> tuple[int, str]:
        """The close code and reason of the session: the one sent first wins (ours when we
        failed the connection, e.g. 1009; the executor's when it closed); 1006 when no close
        frame was exchanged (the TCP link dropped)."""
        protocol = self.ws.protocol
        first = protocol.close_rcvd if protocol.close_rcvd_then_sent else protocol.close_sent
        close = first or protocol.close_rcvd or protocol.close_sent
        if close is None:
            return 1006, "connection lost"
        return close.code, close.reason
