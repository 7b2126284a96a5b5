"""Whether a gateway pod holds the sessions this worker believes it holds: the heartbeat digest.

Every heartbeat of a pod for an app carries the count and digest (``streams.heartbeats``) of the
(executor id, connection id) pairs it holds; a full listing goes only every ~60 s (or in every
beat up to 10 sessions). Between listings, the worker's table can be wrong about a pod: a connect
or disconnect lost (a write that failed for good, a broker that came back empty, an outbox that
overflowed), or folded against a newer record by mistake. A lost disconnect is the costly one: an
executor that left is believed alive, and its workflows wait for the next listing.

``on_beat`` compares the pod's digest with the digest of what the app's state says the pod holds
(its executors that are connected through that pod) and, when they differ for ``MISMATCH_GRACE_MS``
of event time, asks that pod to list its sessions in its next beat: a ``ListSessions`` command,
on the command topic every pod reads (the same path as the recovery commands). The listing then
heals the table through the fold that already heals from listings (``recovery.liveness``): a
session missing from it is disconnected, one the table lacks is connected.

Why this and not more:

- The digest says *that* the views differ, not *how*: only a listing says which sessions. Asking
  the pod for it now is the smallest change that converges; the table is healed by the code that
  heals it today, and nothing else reads the digest.
- Not on the first mismatching beat: a pod writes its beat and its session events from different
  tasks (and holds session events back while Kafka refuses them, ``gateway.session_events``), so
  a beat may count a session whose connect is written just after it. So the pod's own digest must
  stay the same, and disagree with the table, for ``MISMATCH_GRACE_MS`` (two beats): the events
  of the changes before that have landed by then, and a mismatch that lasts is a divergence. A pod
  whose sessions keep changing (a reconnect wave: its digest differs at every beat) is not asked
  meanwhile; its next quiet spell, or its periodic listing, settles it.
- At most one request per pod and app per ``ASK_EVERY_MS``: a view that a listing cannot fix
  (the table holds a newer record on purpose) costs one listing per interval, not one per beat.
- Only a digest beat or a listing's last chunk is compared: after a multi-chunk listing's earlier
  chunks the table is healed only in part.

Pure: no Faust, Kafka, asyncio or clock; times are the beats' own (event time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from recovery.state import AppState, ExecutorRecord, ExecutorState
from streams.heartbeats import session_digest_of
from streams.ids import CommandId, ExecutorId, GatewayId
from streams.records import GatewayHeartbeat, ListSessions

MISMATCH_GRACE_MS = 4_000
"""A mismatch must last this long (two beats at the default 2 s) before the pod is asked."""
ASK_EVERY_MS = 15_000
"""A pod is asked for a listing of an app at most this often."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PodCheck:
    """What the worker remembers about one pod's digest for one app (soft state)."""

    mismatch_since_ms: int | None = None
    """Event time of the first beat of the current mismatch (``None``: they agree)."""
    pod_digest: str | None = None
    """The pod's digest through the current mismatch: a new one starts the grace over."""
    asked_at_ms: int | None = None
    """Event time of the beat that made the last request for a listing."""


@dataclass(frozen=True, slots=True)
class Believed:
    """What an app's state says each pod holds: the count and digest of its sessions, by pod.

    Computed in one walk of the app's executors for every pod, and kept (``believed``) while the
    state's executors mapping is the same object: folds copy it on any change, and a beat that
    lists nothing leaves it alone (``recovery.liveness.SEEN_REFRESH_MS``), so an idle app of
    10,000 executors is not walked and digested once per beat."""

    executors: Mapping[ExecutorId, ExecutorRecord]
    """The mapping this was computed from (compared by identity)."""
    by_gateway: Mapping[GatewayId, tuple[int, str]]
    """Each pod's (session count, ``session_digest_of`` its sessions); a pod holding none is
    absent."""

    def of(self, gateway: GatewayId) -> tuple[int, str]:
        """``gateway``'s count and digest (a pod this state gives nothing: none, empty)."""
        return self.by_gateway.get(gateway) or (0, session_digest_of(()))


def believed(state: AppState, memo: Believed | None = None) -> Believed:
    """What ``state`` says each pod holds; ``memo`` itself when it was computed from the same
    executors mapping."""
    if memo is not None and memo.executors is state.executors:
        return memo
    pairs: dict[GatewayId, list[tuple[str, str]]] = {}
    for record in state.executors.values():
        if record.state is ExecutorState.CONNECTED:
            pairs.setdefault(record.gateway, []).append((record.executor_id, record.conn_id))
    return Believed(
        executors=state.executors,
        by_gateway={gw: (len(held), session_digest_of(held)) for gw, held in pairs.items()},
    )


def agrees(held: Believed, beat: GatewayHeartbeat) -> bool | None:
    """Whether the state ``held`` was computed from (with ``beat`` folded in) holds what the
    beat's digest says the pod holds; ``None``: the beat says nothing to compare (an older
    gateway, a listing's earlier chunk)."""
    if beat.digest is None or beat.session_count is None:
        return None
    if beat.listed and beat.listed_through is not None:
        return None
    count, digest = held.of(beat.gateway)
    return count == beat.session_count and digest == beat.digest


def on_beat(
    check: PodCheck | None, held: Believed, beat: GatewayHeartbeat
) -> tuple[PodCheck | None, ListSessions | None]:
    """The pod's check after ``beat`` (``None``: nothing to remember) and the request for a
    listing to send, if one is due.

    Args:
        check: what was remembered about this pod and app (``None``: nothing).
        held: what the app's state, ``beat`` folded in, says each pod holds (``believed``).
        beat: one of the pod's heartbeat records for the app.
    """
    check = check or PodCheck()
    agreed = agrees(held, beat)
    if agreed is None:
        return _kept(check, beat.ts_ms), None
    if agreed:
        return _kept(PodCheck(asked_at_ms=check.asked_at_ms), beat.ts_ms), None
    since_ms = check.mismatch_since_ms
    if since_ms is None or check.pod_digest != beat.digest:
        since_ms = beat.ts_ms  # a mismatch begins, or the pod's sessions changed: wait again
    asked_ms = check.asked_at_ms
    due = beat.ts_ms - since_ms >= MISMATCH_GRACE_MS and (
        asked_ms is None or beat.ts_ms - asked_ms >= ASK_EVERY_MS
    )
    kept = PodCheck(mismatch_since_ms=since_ms, pod_digest=beat.digest, asked_at_ms=asked_ms)
    if not due:
        return kept, None
    ask = ListSessions(
        command_id=CommandId(f"list/{beat.app}/{beat.gateway}/{beat.ts_ms}"),
        app=beat.app,
        gateway=beat.gateway,
        issued_at_ms=beat.ts_ms,
    )
    return replace(kept, asked_at_ms=beat.ts_ms), ask


def _kept(check: PodCheck, now_ms: int) -> PodCheck | None:
    """``check``, or ``None`` once it holds nothing that matters any more."""
    if check.mismatch_since_ms is not None:
        return check
    if check.asked_at_ms is not None and now_ms - check.asked_at_ms < ASK_EVERY_MS:
        return check
    return None
