"""What a long-running role's readiness checks (``/readyz``): its broker with Baton's topics, if it
has one, and its store. Shared by ``baton.gateway_role`` and ``baton.console_role``."""

from __future__ import annotations

from baton.settings import Settings
from broker.reachability import kafka_check
from runtime.readiness import Check
from store.database import Store
from store.reachability import store_check


def role_checks(settings: Settings, store: Store) -> dict[str, Check]:
    """What a role's readiness needs: its broker with Baton's topics (if it has one) and its
    store."""
    checks: dict[str, Check] = {}
    if settings.kafka_bootstrap is not None:
        names = [spec.name for spec in settings.topics.specs()]
        checks["kafka"] = kafka_check(settings.kafka_bootstrap, names)
    checks["store"] = store_check(store)
    return checks
