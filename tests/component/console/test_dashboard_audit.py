"""The dashboard's audit page: filters, cursor pages, refused parameters, and actions taken through
the dashboard showing up in it."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from store.audit import record_audit
from store.database import Store
from streams.records import ActionOutcome, OperatorAction
from tests.component.console.dashboard_client import (
    ESCAPED_XSS,
    Console,
    FakeExecutor,
    page,
    post,
    serve,
)
from tests.component.console.seed import BILLING, ORDERS, XSS
from tests.console_access import TEST_ACCESS


async def _seed_actions(store: Store, count: int) -> None:
    records = [
        OperatorAction(
            action_id=f"seeded-{i:03d}",
            app=ORDERS if i % 2 else BILLING,
            actor="token:alice" if i % 3 == 0 else "local",
            action="workflow.cancel" if i % 2 else "schedule.pause",
            target=f"wf-{i:03d}",
            params={"n": i},
            outcome=ActionOutcome.SUCCEEDED if i % 5 else ActionOutcome.REJECTED,
            requested_at_ms=1_700_000_000_000 + i * 1000,
            finished_at_ms=1_700_000_000_000 + i * 1000 + 10,
            error=None if i % 5 else f"refused {XSS}",
        )
        for i in range(count)
    ]
    async with store.sessionmaker.begin() as session:
        await record_audit(session, records)


def _audit_rows(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-testid="audit-row" data-action="([^"]*)" data-outcome="([^"]*)"', html)


async def test_audit_page_filters(console: Console) -> None:
    await _seed_actions(console.store, 20)
    html = await page(console.client, "/audit")
    assert len(_audit_rows(html)) == 20
    assert XSS not in html
    assert f"refused {ESCAPED_XSS}" in html
    assert 'data-testid="audit-link" aria-current="page"' in html

    rejected = await page(console.client, "/audit", params={"outcome": "rejected"})
    assert {o for _, o in _audit_rows(rejected)} == {"rejected"}
    assert len(_audit_rows(rejected)) == 4
    assert '<option value="rejected" selected>' in rejected

    orders = await page(console.client, "/audit", params={"app": "orders", "actor": "token:alice"})
    assert len(_audit_rows(orders)) == 3  # i = 3, 9, 15
    assert 'data-testid="tab-audit" aria-current="page"' in orders

    prefix = await page(console.client, "/audit", params={"action": "schedule."})
    assert {a for a, _ in _audit_rows(prefix)} == {"schedule.pause"}
    target = await page(console.client, "/audit", params={"target": "wf-007"})
    assert len(_audit_rows(target)) == 1
    assert 'href="/apps/orders/workflows/wf-007"' in target


async def test_audit_page_pages_by_cursor(console: Console) -> None:
    await _seed_actions(console.store, 70)
    first = await page(console.client, "/audit")
    assert len(_audit_rows(first)) == 50
    assert 'data-refresh-ms="5000"' in first
    [next_href] = re.findall(r'href="([^"]*)" data-testid="next-page"', first)
    second = await page(console.client, next_href.replace("&amp;", "&"))
    assert len(_audit_rows(second)) == 20
    assert 'data-testid="first-page"' in second
    assert 'data-testid="next-page"' not in second
    assert 'data-refresh-ms="0"' in second  # an older page does not take in new entries


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"outcome": "great"}, "outcome"),
        ({"cursor": "garbage"}, "cursor"),
        ({"app": "a!b"}, "invalid app name"),
        ({"colour": "red"}, "unknown parameter"),
    ],
)
async def test_audit_page_refuses_bad_parameters(
    console: Console, params: dict[str, str], message: str
) -> None:
    html = await page(console.client, "/audit", 400, params=params)
    assert message in html


async def test_actions_show_up_in_the_audit_page(console: Console, seeded_store: Store) -> None:
    access = replace(TEST_ACCESS, proxy_user_header="X-User")
    executor = FakeExecutor(store=seeded_store)
    async with serve(seeded_store, executor, access=access, authorize=False) as c:
        response = await post(
            c.client,
            "/apps/orders/workflows/wf-003/actions/cancel",
            {"idempotency_key": "k-alice"},
            **{"X-User": "alice"},
        )
        assert response.status_code == 303
        html = await page(
            c.client, "/audit", params={"actor": "user:alice"}, headers={"X-User": "alice"}
        )
    assert _audit_rows(html) == [("workflow.cancel", "succeeded")]
