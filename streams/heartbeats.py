"""A gateway pod's heartbeat records for one app: a count and digest every beat, the session
listing in bounded chunks only when asked (``GatewayHeartbeat``).

One record no longer holds every session (issue 12: at ~4,000 sessions a pod's heartbeat passed
the broker's 1 MB record limit). A listing is split by executor id into chunks of at most
``MAX_CHUNK_SESSIONS`` sessions and about ``MAX_CHUNK_BYTES`` of JSON, each saying which range of
executor ids it covers, so each chunk is read on its own.

Pure: no Kafka, asyncio or clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

import orjson

from streams.ids import AppName, ExecutorId, GatewayId
from streams.records import GatewayHeartbeat, SessionInfo

MAX_CHUNK_SESSIONS = 500
MAX_CHUNK_BYTES = 256 * 1024
"""A chunk stops growing past this much JSON (a session's metadata may be 2 KB)."""
LIST_EVERY_BEAT_UP_TO = 10
"""A pod holding at most this many sessions of an app lists them in every beat (one record).
The embedded broker keeps every record: at 100 sessions, a listing every 2 s (~20 KB) came to
~840 MB a day (issue 12's soak); a digest-only beat is ~250 bytes."""


def session_digest(sessions: Iterable[SessionInfo]) -> str:
    """A digest of a set of sessions (executor id and connection id; order does not matter)."""
    return session_digest_of((s.info.executor_id, s.conn_id) for s in sessions)


def session_digest_of(pairs: Iterable[tuple[str, str]]) -> str:
    """``session_digest`` of (executor id, connection id) pairs."""
    digest = hashlib.blake2b(digest_size=16)
    for executor_id, conn_id in sorted(pairs):
        digest.update(executor_id.encode())
        digest.update(b"\x00")
        digest.update(conn_id.encode())
        digest.update(b"\x01")
    return digest.hexdigest()


def heartbeats(
    app: AppName,
    gateway: GatewayId,
    sessions: Iterable[SessionInfo],
    ts_ms: int,
    *,
    listing: bool,
    hold_listing: bool = False,
) -> list[GatewayHeartbeat]:
    """The records of one beat: the listing's chunks when ``listing`` (or when the pod holds at
    most ``LIST_EVERY_BEAT_UP_TO`` sessions), else one record that lists nothing. Every record
    carries the count and digest of all the sessions.

    ``hold_listing``: list nothing whatever the count, because the pod still holds connects or
    disconnects of the app that Kafka has not taken: a listing would overtake them, and a
    disconnect says more (its close code, draining, revoked) than a session missing from a
    listing."""
    held = sorted(sessions, key=lambda s: s.info.executor_id)
    count, digest = len(held), session_digest(held)
    if hold_listing or (not listing and count > LIST_EVERY_BEAT_UP_TO):
        return [
            GatewayHeartbeat(
                app=app,
                gateway=gateway,
                sessions=(),
                ts_ms=ts_ms,
                listed=False,
                session_count=count,
                digest=digest,
            )
        ]
    chunks = _chunks(held)
    records = []
    after: ExecutorId | None = None
    for i, chunk in enumerate(chunks):
        through = None if i == len(chunks) - 1 else chunk[-1].info.executor_id
        records.append(
            GatewayHeartbeat(
                app=app,
                gateway=gateway,
                sessions=tuple(chunk),
                ts_ms=ts_ms,
                listed_after=after,
                listed_through=through,
                session_count=count,
                digest=digest,
            )
        )
        after = through
    return records


def logs_reset(
    newest: Mapping[AppName, int], written: Sequence[tuple[AppName, int]]
) -> tuple[dict[AppName, int], set[AppName]]:
    """After a beat was written: the newest offset of each app's beats, and the apps whose beat
    landed below the app's previous one. Their partition's log was reset (the embedded broker
    restarted empty, or the topic was re-created) without a write failing: the workers reading
    it know none of the app's sessions, so the pod lists them at its next beat instead of at the
    listing interval.

    Args:
        newest: each app's newest beat offset so far (the apps no longer beaten are dropped by
            the caller).
        written: (app, offset) of each record of the beat just written.
    """
    reset = {app for app, offset in written if offset <= newest.get(app, -1)}
    updated = dict(newest)
    for app, offset in written:  # in order: an app's chunks have rising offsets
        updated[app] = offset if app in reset else max(offset, updated.get(app, offset))
    return updated, reset


def _chunks(sessions: list[SessionInfo]) -> list[list[SessionInfo]]:
    """Consecutive chunks of bounded count and size (at least one, maybe empty)."""
    chunks: list[list[SessionInfo]] = [[]]
    size = 0
    for session in sessions:
        length = len(orjson.dumps(session))
        current = chunks[-1]
        if current and (len(current) >= MAX_CHUNK_SESSIONS or size + length > MAX_CHUNK_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(session)
        size += length
    return chunks
