"""Admission control: failed attempts (gateway handshakes, console sign-ins) are rate-limited per
source address.

Pure (HOUSE_STYLE §1): no I/O and no clock; the gateway's shell (``gateway/server.py``) asks
``HandshakeAdmission.begin`` before it checks a key against the store and reports the outcome
after. Imports nothing of Baton's.

The policy, and why:

* A source whose handshakes failed ``max_failures`` times within ``window_ms`` is blocked for
  ``block_ms``: its handshakes are refused (429) before the key store is touched, so a flood of
  wrong keys costs a dictionary lookup each. The thresholds stay above what honest clients do: a
  DBOS executor with a revoked key retries once a second (10 failures per 10 s window), so a few
  of them on one host are refused as before (403), not blocked.
* At most ``max_pending`` key checks per source run at once; more are refused (429) at once. The
  failure count only grows as checks finish, so without this cap a burst of concurrent attempts
  from one source could all reach the store together and hold its connections while other
  executors wait for them.
* A success does not clear a source's failures: one valid key must not buy unlimited guesses.
* While a source is blocked, a valid key from it is refused too (telling them apart would mean
  checking the key). That is the price of the cheap refusal: executors on the flooding host
  reconnect once the block (a minute by default) is over.

What a "source" is: the peer's IP address; IPv6 peers by their /64 network, which one host
usually holds whole (rotating addresses inside it must not escape the limit). Behind a proxy,
every executor has the proxy's address, so the gateway can be told to take the client's address
from a header the proxy sets (``GatewayConfig.client_address_header``, e.g. ``X-Forwarded-For``,
rightmost value: the one the proxy appended). That header is honoured only when configured, and
should be configured only when executors can reach the gateway through that proxy alone: a client
that reaches the gateway directly could otherwise name any source it likes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

IPV6_SOURCE_PREFIX = 64
"""IPv6 peers are limited per network of this prefix length."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AdmissionLimits:
    """When failed handshakes from one source get it refused without a key check."""

    max_failures: int = 30
    """Failed handshakes within ``window_ms`` that block the source."""
    window_ms: int = 10_000
    block_ms: int = 60_000
    """How long a blocked source is refused without a key check."""
    max_pending: int = 16
    """Key checks of one source that may run at once."""
    max_sources: int = 100_000
    """Sources remembered at most (memory bound); idle ones are forgotten first."""


class Verdict(StrEnum):
    """What to do with a handshake before its key is checked."""

    CHECK = "check"
    """Check the key; report the outcome with ``failed`` (if refused) and ``done``."""
    BLOCKED = "blocked"
    """Refuse: too many failures from this source lately."""
    BUSY = "busy"
    """Refuse: too many key checks of this source in flight."""


@dataclass(slots=True)
class _Source:
    window_start_ms: int = 0
    failures: int = 0
    """Failures since ``window_start_ms``."""
    blocked_until_ms: int = 0
    pending: int = 0
    refused: int = 0
    """Refusals not yet reported by ``take_refused``."""


class HandshakeAdmission:
    """Per-source counters of failed and in-flight key checks."""

    def __init__(self, limits: AdmissionLimits | None = None) -> None:
        self.limits = limits or AdmissionLimits()
        self._sources: dict[str, _Source] = {}

    def begin(self, source: str, now_ms: int) -> Verdict:
        """Decide on a handshake from ``source``; ``CHECK`` counts it in flight until ``done``."""
        entry = self._sources.get(source)
        if entry is None:
            self._bound(now_ms)
            entry = self._sources[source] = _Source(window_start_ms=now_ms)
        if now_ms < entry.blocked_until_ms:
            entry.refused += 1
            return Verdict.BLOCKED
        if entry.pending >= self.limits.max_pending:
            entry.refused += 1
            return Verdict.BUSY
        entry.pending += 1
        return Verdict.CHECK

    def failed(self, source: str, now_ms: int) -> bool:
        """Count a refused key from ``source``.

        Returns:
            True if this failure blocks the source (from now on, for ``block_ms``).
        """
        entry = self._sources.setdefault(source, _Source(window_start_ms=now_ms))
        entry.refused += 1
        if now_ms - entry.window_start_ms >= self.limits.window_ms:
            entry.window_start_ms, entry.failures = now_ms, 0
        entry.failures += 1
        if entry.failures < self.limits.max_failures or now_ms < entry.blocked_until_ms:
            return False
        entry.blocked_until_ms = now_ms + self.limits.block_ms
        entry.window_start_ms, entry.failures = entry.blocked_until_ms, 0
        return True

    def done(self, source: str) -> None:
        """A key check that ``begin`` allowed has finished, whatever its outcome."""
        entry = self._sources.get(source)
        if entry is not None and entry.pending > 0:
            entry.pending -= 1

    def blocked_for_ms(self, source: str, now_ms: int) -> int:
        """How much longer ``source`` is blocked (0: it is not)."""
        entry = self._sources.get(source)
        return 0 if entry is None else max(0, entry.blocked_until_ms - now_ms)

    def take_refused(self, source: str) -> int:
        """Refusals of ``source`` since the last call (for a log line that counts them)."""
        entry = self._sources.get(source)
        if entry is None:
            return 0
        count, entry.refused = entry.refused, 0
        return count

    def _bound(self, now_ms: int) -> None:
        """Forget idle sources once there are too many: neither blocked nor checking a key."""
        if len(self._sources) < self.limits.max_sources:
            return
        self._sources = {
            source: entry
            for source, entry in self._sources.items()
            if entry.pending or entry.blocked_until_ms > now_ms
        }


def source_of(address: str) -> str:
    """The rate-limiting source of a client address: the IP itself, or an IPv6 /64 network.

    An IPv4-mapped IPv6 address is its IPv4 address; text that is not an IP address (a Unix
    socket's peer, a malformed header) is its own source, cut to 64 characters.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_SOURCE_PREFIX), strict=False))
    return str(ip)


def forwarded_client(values: list[str]) -> str | None:
    """The client address a proxy appended to a header such as ``X-Forwarded-For``: the
    rightmost entry of the header's last occurrence (what precedes it the client could write)."""
    for value in reversed(values):
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        if entries:
            return entries[-1]
    return None
