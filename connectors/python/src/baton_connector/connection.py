"""The connector's websocket: one background thread that connects to the conductor, answers
each request in order and reconnects 1 s after any close, like DBOS's stock client. The
connector's one adapter of ``websockets`` (its sync client; pings are answered and sent by the
library).

``stop`` is idempotent: it closes the socket with 1000 (normal closure) and joins the thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection, connect

from baton_connector import protocol
from baton_connector.exceptions import ProtocolError

logger = logging.getLogger(__name__)

RECONNECT_DELAY_S = 1.0
"""Wait after a close or a failed attempt before connecting again (the stock client's)."""
OPEN_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 5.0
RECV_SLICE_S = 1.0
"""How often the receive loop looks at the stop flag."""
STOP_JOIN_TIMEOUT_S = 10.0


class ConductorSocket:
    """The websocket to one conductor URL, served by ``answer`` (request text -> reply text)."""

    def __init__(
        self, url: str, answer: Callable[[protocol.Request], str], *, shown_url: str
    ) -> None:
        self._url = url
        self._shown_url = shown_url
        self._answer = answer
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._websocket: ClientConnection | None = None
        self._thread = threading.Thread(target=self._run, name="baton-connector", daemon=True)
        self.connected = threading.Event()
        """Set while a session is open (for callers that wait for the first connection)."""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close with 1000 and wait for the thread (idempotent)."""
        self._stopping.set()
        with self._lock:
            websocket = self._websocket
        if websocket is not None:
            websocket.close(code=1000)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(STOP_JOIN_TIMEOUT_S)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._session()
            except ConnectionClosed as exc:
                logger.info(
                    "conductor connection closed (code %s)", exc.rcvd.code if exc.rcvd else None
                )
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                logger.warning("cannot connect to the conductor at %s: %s", self._shown_url, exc)
            finally:
                self.connected.clear()
                with self._lock:
                    self._websocket = None
            self._stopping.wait(RECONNECT_DELAY_S)

    def _session(self) -> None:
        with connect(
            self._url, open_timeout=OPEN_TIMEOUT_S, close_timeout=CLOSE_TIMEOUT_S, max_size=None
        ) as websocket:
            with self._lock:
                self._websocket = websocket
            if self._stopping.is_set():
                return
            self.connected.set()
            logger.info("connected to the conductor at %s", self._shown_url)
            while not self._stopping.is_set():
                try:
                    frame = websocket.recv(timeout=RECV_SLICE_S)
                except TimeoutError:
                    continue
                if isinstance(frame, bytes):
                    logger.warning("ignored a binary frame from the conductor")
                    continue
                reply = self._reply(frame)
                if reply is not None:
                    websocket.send(reply)

    def _reply(self, frame: str) -> str | None:
        try:
            request = protocol.decode(frame)
        except ProtocolError as exc:
            logger.warning("ignored a frame from the conductor: %s", exc)
            return None
        return self._answer(request)
