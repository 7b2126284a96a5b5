"""The dashboard's HTML pages over a real seeded store: what they show, that executor-supplied
text is escaped, the stale banner, the live-refresh region and its settings, and error pages."""

from __future__ import annotations

import re
from dataclasses import replace

import httpx
import pytest

from recovery.state import ExecutorState
from store.database import Store
from streams.ids import ExecutorId
from tests.component.console.dashboard_client import ESCAPED_XSS, HTML, Console, page
from tests.component.console.seed import (
    WORKFLOWS,
    XSS,
    ClientFactory,
    FakeLive,
    add_executors,
    executor,
)


def _testids(html: str, testid: str) -> int:
    return html.count(f'data-testid="{testid}"')


def _row_statuses(html: str) -> list[str]:
    return re.findall(
        r'data-testid="workflow-row" data-workflow-id="[^"]*" data-status="(\w+)"', html
    )


async def test_overview_lists_every_app(client: httpx.AsyncClient) -> None:
    html = await page(client, "/")
    assert 'data-app="orders"' in html
    assert 'data-app="billing"' in html
    assert 'href="/apps/orders/workflows"' in html
    assert 'class="skip-link" href="#main"' in html


async def test_executors_page(client: httpx.AsyncClient) -> None:
    html = await page(client, "/apps/orders")
    assert _testids(html, "executor-row") == 2
    assert _testids(html, "compatibility-warning") == 0
    assert "abnormal closure" in html
    assert " ago</time>" in html
    assert 'data-testid="tab-executors" aria-current="page"' in html


async def test_an_executor_outside_the_tested_matrix_is_flagged_escaped(
    client: httpx.AsyncClient, seeded_store: Store
) -> None:
    info = executor("e1", ExecutorState.CONNECTED).info
    odd = replace(info, executor_id=ExecutorId("e7"), language="<b>cobol</b>")
    await add_executors(seeded_store, executor("e7", ExecutorState.CONNECTED, info=odd))
    html = await page(client, "/apps/orders")
    assert _testids(html, "compatibility-warning") == 1
    assert "unknown client language &#39;&lt;b&gt;cobol&lt;/b&gt;&#39;" in html
    assert "<b>cobol</b>" not in html


async def test_workflows_page_filters_by_status(client: httpx.AsyncClient) -> None:
    html = await page(client, "/apps/orders/workflows", params={"status": "ERROR"})
    assert _row_statuses(html) == ["ERROR"]
    assert '<option value="ERROR" selected>' in html
    assert 'data-testid="status-tab-error" aria-current="page"' in html
    assert '<label for="filter-status">' in html


async def test_workflows_page_pages(client: httpx.AsyncClient) -> None:
    first = await page(client, "/apps/orders/workflows", params={"limit": 20, "name": "bulk"})
    assert len(_row_statuses(first)) == 20
    [next_href] = re.findall(r'href="([^"]*)" data-testid="next-page"', first)
    assert sorted(next_href.lstrip("?").split("&amp;")) == ["limit=20", "name=bulk", "offset=20"]
    assert "1&ndash;20 of 30" in first
    second = await page(
        client, "/apps/orders/workflows", params={"limit": 20, "name": "bulk", "offset": 20}
    )
    assert len(_row_statuses(second)) == 10
    assert 'data-testid="prev-page"' in second
    assert 'data-testid="next-page"' not in second


async def test_workflows_page_keeps_the_form_values(client: httpx.AsyncClient) -> None:
    html = await page(
        client, "/apps/orders/workflows", params={"queue": 'ship"ping', "sort": "created_asc"}
    )
    assert 'value="ship&#34;ping"' in html
    assert '<option value="created_asc" selected>' in html
    assert 'data-testid="no-workflows"' in html


async def test_detail_page_escapes_untrusted_text(client: httpx.AsyncClient) -> None:
    html = await page(client, "/apps/orders/workflows/wf-002")
    assert XSS not in html
    assert "<script>alert" not in html
    assert html.count(ESCAPED_XSS) >= 3  # input, error, step error
    assert 'data-testid="workflow-error"' in html
    assert 'data-testid="stale-banner"' in html
    assert "Stale as of" in html


async def test_list_page_escapes_untrusted_text(client: httpx.AsyncClient) -> None:
    html = await page(client, "/apps/orders/workflows", params={"status": "ERROR"})
    assert XSS not in html
    assert ESCAPED_XSS in html


async def test_detail_page_shows_steps_children_and_payloads(client: httpx.AsyncClient) -> None:
    html = await page(client, "/apps/orders/workflows/wf-001")
    assert _testids(html, "step") == 3
    assert "reserve_stock" in html
    assert 'href="/apps/orders/workflows/wf-006"' in html  # child link (step and children)
    assert "&#34;paid&#34;" in html
    assert "700 ms" in html
    # A finished workflow's page does not poll.
    assert 'data-refresh-ms="0"' in html


async def test_detail_page_live_has_no_stale_banner(make_client: ClientFactory) -> None:
    stored = next(w for w in WORKFLOWS if w.workflow_id == "wf-003")
    live = FakeLive(workflows={"wf-003": replace(stored, status="PENDING")})
    async with make_client(live) as client:
        html = await page(client, "/apps/orders/workflows/wf-003")
    assert 'data-testid="stale-banner"' not in html
    assert "Live from an executor" in html
    assert 'data-refresh-ms="5000"' in html  # active: polls


async def test_detail_page_of_odd_ids_links_them_encoded(client: httpx.AsyncClient) -> None:
    html = await page(client, "/apps/orders/workflows", params={"name": "odd"})
    assert 'href="/apps/orders/workflows/dir%2Fwith%3Fodd%23id"' in html
    detail = await page(client, "/apps/orders/workflows/dir%2Fwith%3Fodd%23id")
    assert "dir/with?odd#id" in detail


async def test_queues_page(client: httpx.AsyncClient) -> None:
    html = await page(client, "/apps/orders/queues")
    assert 'data-queue="shipping"' in html
    assert _testids(html, "queued-row") == 3
    only = await page(client, "/apps/orders/queues", params={"queue": "shipping", "limit": 2})
    assert _testids(only, "queued-row") == 2
    assert 'data-testid="next-page"' in only


async def test_recoveries_page(client: httpx.AsyncClient) -> None:
    html = await page(client, "/apps/orders/recoveries")
    assert _testids(html, "recovery-row") == 1
    assert "e1 runs v1" in html


async def test_partial_request_renders_the_live_region_alone(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/apps/orders/workflows",
        params={"status": "ERROR"},
        headers={"X-Baton-Partial": "live"},
    )
    assert response.status_code == 200
    assert "X-Baton-Partial" in response.headers["vary"]
    assert response.headers["cache-control"] == "no-store"
    assert "<html" not in response.text
    assert "<form" not in response.text  # the form is outside: typing in it is never clobbered
    assert _row_statuses(response.text) == ["ERROR"]


@pytest.mark.parametrize(
    "path", ["/", "/apps/orders", "/apps/orders/queues", "/apps/orders/recoveries"]
)
async def test_every_page_has_a_live_region(client: httpx.AsyncClient, path: str) -> None:
    html = await page(client, path)
    assert 'id="live" data-refresh-ms="5000"' in html
    assert 'id="refresh-toggle"' in html
    partial = await client.get(path, headers={"X-Baton-Partial": "live"})
    assert partial.status_code == 200
    assert "<html" not in partial.text


async def test_refresh_interval_is_configurable_and_can_be_off(
    make_client: ClientFactory,
) -> None:
    async with make_client(refresh_interval_s=2.5) as client:
        assert 'data-refresh-ms="2500"' in await page(client, "/apps/orders/workflows")
    async with make_client(refresh_interval_s=0) as client:
        html = await page(client, "/apps/orders/workflows")
    assert 'data-refresh-ms="0"' in html
    assert 'id="refresh-toggle"' not in html


async def test_unknown_workflow_is_an_html_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/apps/orders/workflows/{XSS}", headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert XSS not in response.text
    assert "no workflow" in response.text


async def test_bad_parameter_is_an_html_400(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/apps/orders/workflows", params={"status": "<b>DONE</b>"}, headers=HTML
    )
    assert response.status_code == 400
    assert "invalid parameter &#39;status&#39;" in response.text
    assert "<b>DONE</b>" not in response.text


async def test_bad_app_name_is_an_html_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/apps/a!b/workflows", headers=HTML)
    assert response.status_code == 400
    assert "invalid app name" in response.text


async def test_static_assets_are_served(client: httpx.AsyncClient) -> None:
    css = await client.get("/static/console.css")
    js = await client.get("/static/console.js")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert js.status_code == 200
    assert "X-Baton-Partial" in js.text


async def test_navigation_links_every_section(console: Console) -> None:
    html = await page(console.client, "/apps/orders/workflows")
    for href in ("bulk", "schedules", "versions"):
        assert f'href="/apps/orders/{href}" data-testid="tab-{href}"' in html
    assert 'href="/audit?app=orders" data-testid="tab-audit"' in html
    assert 'href="/audit" data-testid="audit-link"' in html
