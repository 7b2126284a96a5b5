"""The gateway's settings, built once by the composition root (``baton.settings``).

``GatewayLimits`` gathers every bound the WebSocket edge puts on an executor (or on anything that
connects to it): how long each phase may take, how much each session may buffer. Each one is
deliberate, and each is settable as ``BATON_GATEWAY_<FIELD>`` (``baton.settings``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from gateway.outbox import MAX_RECORDS
from gateway.publish_watch import STALL_MS
from runtime.admission import AdmissionLimits
from runtime.tls import TlsFiles
from streams.exceptions import ConfigError
from streams.ids import GatewayId
from streams.topics import Topics


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayLimits:
    """What one connection may cost the gateway, from its first TCP byte to its last frame.

    A client is cut off by the first bound it overruns:

    - the HTTP upgrade (key check included) within ``open_timeout_s`` (a slow-loris handshake);
    - the ``executor_info`` answer within ``handshake_timeout_s`` (closed 1008);
    - every frame the gateway sends taken within ``write_timeout_s`` (a reader that never reads;
      its record says 1008, "write timeout"), which holds at most ``write_limit_bytes`` plus
      ``send_buffer_bytes`` meanwhile;
    - a pong within ``ping_interval_s + ping_timeout_s`` (``GatewayConfig``; closed 1011);
    - the close handshake within ``close_timeout_s``.
    """

    open_timeout_s: float = 10.0
    """From TCP accept to the end of the WebSocket upgrade (websockets ``open_timeout``); a client
    that dribbles or never finishes its HTTP request is dropped then, without a response."""
    handshake_timeout_s: float = 10.0
    """How long an executor has to answer ``executor_info`` once upgraded."""
    write_timeout_s: float = 10.0
    """How long one frame to an executor may wait for room in its buffers. Only a peer that reads
    nothing fills them (requests are small), so it is then cut off."""
    close_timeout_s: float = 2.0
    """How long a closing session waits for the executor's side of the close handshake (a
    frozen executor never sends it)."""
    write_limit_bytes: int = 32 * 1024
    """High-water mark of a session's outgoing buffer (websockets ``write_limit``): beyond it,
    sends wait for the executor to read (at most ``write_timeout_s``)."""
    send_buffer_bytes: int = 64 * 1024
    """The kernel's send buffer of each session (``SO_SNDBUF``; Linux doubles it). Left alone,
    Linux grows it to megabytes for a peer that reads nothing; the gateway only sends small
    requests, so a small buffer costs nothing and bounds what a stuck session holds."""
    max_queue_frames: int = 4
    """Frames received but not yet handled, per session, before the gateway stops reading from the
    socket (websockets ``max_queue``). The receive loop handles each frame at once; a small queue
    bounds what one session can hold to a few ``max_message_bytes``."""
    max_message_bytes: int = 64 * 1024 * 1024
    """Executor replies (workflow lists with outputs) can be large; larger messages close 1009."""
    max_pending_requests: int = 64
    """Requests in flight to one executor; more fail at once (the command reports it) instead of
    queueing behind an executor that does not answer."""
    compression: bool = False
    """Offer permessage-deflate. Off: each compressed session holds zlib buffers on both sides,
    and a compressed frame costs the gateway far more to inflate than it cost to send."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                continue
            if not (math.isfinite(value) and value > 0):
                variable = f"BATON_GATEWAY_{f.name.upper()}"
                raise ConfigError(
                    f"gateway {f.name} must be a positive number, got {value}",
                    fix=f"set {variable} to a positive number, or unset it",
                )


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayConfig:
    """How one gateway pod listens, talks to executors and reports to Kafka."""

    gateway_id: GatewayId
    """This pod's id, in every record it publishes; unique per process."""
    kafka_bootstrap: str
    topics: Topics
    host: str = "127.0.0.1"
    port: int = 8090
    ping_interval_s: float = 5.0
    """WebSocket pings to each executor. A frozen or cut-off executor is detected within
    interval + timeout + close timeout: 15 s with the defaults."""
    ping_timeout_s: float = 8.0
    tls: TlsFiles | None = None
    """Serve ``wss://`` with this certificate; ``None``: ``ws://`` (TLS, if any, ends at a
    proxy in front)."""
    limits: GatewayLimits = field(default_factory=GatewayLimits)
    heartbeat_interval_s: float = 2.0
    """One heartbeat per app held, per interval: the liveness signal, with the sessions' count
    and digest (``streams.heartbeats``)."""
    heartbeat_listing_interval_s: float = 900.0
    """How often a heartbeat lists an app's sessions (in bounded chunks) when the pod holds more
    than a few; also on the pod's first beat of the app and after a failed publish (of any
    record: a connect or close the workers may have missed is listed at the next beat). The
    embedded broker keeps every listing: at 100 sessions (~20 KB) every 60 s, ~65 MB a day of its
    memory (issue 12)."""
    revocation_check_interval_s: float = 1.0
    """How often sessions' keys are re-checked: a revoked or expired key's sessions close within
    this interval plus a store query and a close handshake (well within 2 s)."""
    admission: AdmissionLimits = field(default_factory=AdmissionLimits)
    """When failed handshakes from one source get it refused without a key check."""
    client_address_header: str | None = None
    """Behind a proxy: the header it puts the client's address in (e.g. ``X-Forwarded-For``),
    which then names the source that failed handshakes are limited by. Set it only when executors
    reach the gateway through that proxy alone (see ``runtime.admission``); None: the peer's
    address."""
    refusal_log_interval_s: float = 60.0
    """Refused handshakes are logged once per interval per source, with their count."""
    empty_heartbeat_window_s: float = 300.0
    """Keep heartbeating an app this long after its last session left (keeps its clock going)."""
    observation_request_timeout_s: float = 10.0
    """Timeout of each DBOS request a capture poll makes (``list_workflows``, ``list_steps``)."""
    kafka_stall_ms: int = STALL_MS
    """Writes to Kafka failing or hanging this long make the pod unready and (with
    ``shed_when_cut_off``) shed its sessions (``gateway.kafka_watchdog``)."""
    session_outbox_max_records: int = MAX_RECORDS
    """Connects and disconnects that Kafka did not take yet are retried until it does
    (``gateway.session_events``); past this many held, the oldest are dropped (logged, and their
    apps' sessions listed in the next heartbeat)."""
    shed_when_cut_off: bool = True
    """Shed the sessions while Kafka does not take the pod's writes, so that they reconnect to
    another pod; False where there is no other pod (``baton up``)."""
    idempotent_producer: bool = False
    """Publish with an idempotent producer: the role sets it from the broker's answer at start
    (``broker.idempotence``), never where the broker does not grant it."""
