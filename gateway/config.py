"""The gateway's settings, built once by the composition root (``baton.settings``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.admission import AdmissionLimits
from streams.ids import GatewayId
from streams.topics import Topics


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
    close_timeout_s: float = 2.0
    """How long a closing session waits for the executor's side of the close handshake (a
    frozen executor never sends it)."""
    heartbeat_interval_s: float = 2.0
    """One heartbeat record per app held, per interval: the liveness signal and the snapshot."""
    handshake_timeout_s: float = 10.0
    """How long an executor has to answer ``executor_info``."""
    max_message_bytes: int = 64 * 1024 * 1024
    """Executor replies (workflow lists with outputs) can be large; larger frames close 1009."""
    revocation_check_interval_s: float = 1.0
    """How often sessions' keys are re-checked: a revoked or expired key's sessions close within
    this interval plus a store query and a close handshake (well within 2 s)."""
    admission: AdmissionLimits = field(default_factory=AdmissionLimits)
    """When failed handshakes from one source get it refused without a key check."""
    client_address_header: str | None = None
    """Behind a proxy: the header it puts the client's address in (e.g. ``X-Forwarded-For``),
    which then names the source that failed handshakes are limited by. Set it only when executors
    reach the gateway through that proxy alone (see ``gateway.admission``); None: the peer's
    address."""
    refusal_log_interval_s: float = 60.0
    """Refused handshakes are logged once per interval per source, with their count."""
    empty_heartbeat_window_s: float = 300.0
    """Keep heartbeating an app this long after its last session left (keeps its clock going)."""
    observation_request_timeout_s: float = 10.0
    """Timeout of each DBOS request a capture poll makes (``list_workflows``, ``list_steps``)."""
