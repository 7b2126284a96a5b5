"""The audit outbox publishes what the admin commands (and actions while the broker was down)
left in the store only, once, and keeps it pending while publishing fails."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from management.audit_outbox import AuditOutbox
from management.channel import LiveUnavailable
from store.audit import unpublished_actions
from store.database import Store
from store.keys import create_key, revoke_key
from store.models import AuditRow
from store.tokens import create_token
from streams.records import OperatorAction
from tests.component.console.channel import FakeChannel
from tests.eventually import eventually


@dataclass
class BrokenAfter(FakeChannel):
    """Publishes ``allowed`` audit records, then the broker is unreachable."""

    allowed: int = 0
    tried: list[str] = field(default_factory=list)

    async def publish_audit(self, record: OperatorAction) -> None:
        self.tried.append(record.action_id)
        if len(self.audit) >= self.allowed:
            raise LiveUnavailable("the broker is unreachable")
        await super().publish_audit(record)


async def test_admin_commands_reach_the_audit_topic_once(seeded_store: Store) -> None:
    async with seeded_store.sessionmaker.begin() as session:
        key_row, _ = await create_key(session, "orders", name="ci")
        await revoke_key(session, "orders", key_row.key_id)
        await create_token(session, "ops")
    channel = FakeChannel()
    outbox = AuditOutbox(seeded_store, channel)
    assert await outbox.publish_pending() == 3
    assert [(r.action, r.target) for r in channel.audit] == [
        ("key.created", key_row.key_id),
        ("key.revoked", key_row.key_id),
        ("token.created", "ops"),
    ]
    assert channel.audit[0].params == {"name": "ci"}
    assert await outbox.publish_pending() == 0
    assert len(channel.audit) == 3
    async with seeded_store.sessionmaker() as session:
        flags = (await session.scalars(select(AuditRow.published))).all()
    assert flags
    assert all(flags)


async def test_a_failing_broker_leaves_the_rest_pending(seeded_store: Store) -> None:
    async with seeded_store.sessionmaker.begin() as session:
        for name in ("a", "b", "c"):
            await create_token(session, name)
    channel = BrokenAfter(allowed=1)
    outbox = AuditOutbox(seeded_store, channel)
    assert await outbox.publish_pending() == 1
    async with seeded_store.sessionmaker() as session:
        pending = await unpublished_actions(session)
    assert [record.target for _, record in pending] == ["b", "c"]
    channel.allowed = 10
    assert await outbox.publish_pending() == 2
    assert [r.target for r in channel.audit] == ["a", "b", "c"]


async def test_a_started_outbox_publishes_on_its_own_and_stops_cleanly(
    seeded_store: Store,
) -> None:
    channel = FakeChannel()
    async with AuditOutbox(seeded_store, channel, interval_s=0.05) as outbox:
        async with seeded_store.sessionmaker.begin() as session:
            await create_token(session, "later")
        await eventually(lambda: channel.audit, "the outbox's loop published the row")
        assert outbox.tasks.running == {"audit outbox: publisher"}
    assert [r.target for r in channel.audit] == ["later"]
    assert outbox.tasks.running == frozenset()
    assert not outbox.failed.is_set()
