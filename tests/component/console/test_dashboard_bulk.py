"""The dashboard's bulk actions: the workflows list's selection boxes, previews of a filter or of
ticked rows, confirmed jobs and their pages."""

from __future__ import annotations

import asyncio
import re

import pytest

from streams.records import RequestKind
from tests.component.console.dashboard_client import (
    ESCAPED_XSS,
    HTML,
    Console,
    FakeExecutor,
    form_action,
    hidden,
    page,
    post,
)
from tests.component.console.seed import ORDERS, XSS, audit_rows


async def test_list_rows_have_boxes_for_the_selected_form(console: Console) -> None:
    html = await page(console.client, "/apps/orders/workflows", params={"status": "PENDING"})
    assert 'form="bulk-selected" data-select' in html
    assert 'data-testid="bulk-selected-cancel"' in html
    assert 'data-testid="bulk-filter-form"' in html
    assert '<input type="hidden" name="status" value="PENDING">' in html
    unfiltered = await page(console.client, "/apps/orders/workflows")
    # "All matching" needs a filter: an empty one would act on every workflow.
    assert 'data-testid="bulk-filter-form"' not in unfiltered
    partial = await console.client.get(
        "/apps/orders/workflows", headers={"X-Baton-Partial": "live"}
    )
    assert "<form" not in partial.text


async def test_bulk_preview_of_a_filter_counts_the_matches(console: Console) -> None:
    html = await page(
        console.client,
        "/apps/orders/bulk/new",
        params={"scope": "filter", "action": "cancel", "name": "bulk"},
    )
    assert 'data-testid="bulk-matched">30<' in html
    assert html.count('<li><a class="mono" href="/apps/orders/workflows/bulk-') == 20
    assert form_action(html) == "/apps/orders/bulk"
    assert hidden(html, "name") == "bulk"
    assert hidden(html, "scope") == "filter"
    assert re.fullmatch(r"[0-9a-f]{32}", hidden(html, "idempotency_key"))


async def test_bulk_preview_of_ticked_rows(console: Console) -> None:
    response = await post(
        console.client,
        "/apps/orders/bulk/new",
        {"scope": "selected", "action": "resume", "workflow_id": ["wf-002", "wf-007"]},
    )
    assert response.status_code == 200
    assert 'data-testid="bulk-matched">2<' in response.text
    assert 'name="queue_name"' in response.text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"scope": "selected", "action": "cancel"}, "select at least one workflow"),
        ({"scope": "filter", "action": "cancel"}, "an empty filter would select every workflow"),
        ({"scope": "filter", "action": "fork", "name": "x"}, "must be one of cancel"),
        ({"scope": "filter", "action": "cancel", "status": "NOPE"}, "is not one of PENDING"),
    ],
)
async def test_bulk_preview_refuses_a_bad_selection(
    console: Console, form: dict[str, str], message: str
) -> None:
    html = await page(console.client, "/apps/orders/bulk/new", 400, params=form)
    assert message in html
    assert 'data-testid="confirm-form"' not in html


async def test_bulk_job_runs_and_shows_each_outcome(
    console: Console, executor: FakeExecutor
) -> None:
    form = {
        "scope": "selected",
        "action": "cancel",
        "workflow_id": ["wf-003", "wf-004"],
        "idempotency_key": "job-cancel-1",
    }
    response = await post(console.client, "/apps/orders/bulk", form)
    assert response.status_code == 303
    assert response.headers["location"] == "/apps/orders/bulk/job-cancel-1"
    again = await post(console.client, "/apps/orders/bulk", form)
    assert again.headers["location"] == response.headers["location"]
    await console.app.state.bulk.wait("job-cancel-1")

    html = await page(console.client, "/apps/orders/bulk/job-cancel-1")
    assert 'data-testid="job-state" data-state="succeeded"' in html
    assert "2 of 2 done: 2 succeeded, 0 failed" in html
    assert html.count('data-outcome="succeeded"') == 2
    assert 'data-refresh-ms="0"' in html  # finished: no more refreshing
    [request] = executor.acts(RequestKind.CANCEL)
    assert sorted(request.params["workflow_ids"]) == ["wf-003", "wf-004"]

    history = await page(console.client, "/apps/orders/bulk")
    assert history.count('data-testid="bulk-job-row"') == 1
    assert 'href="/apps/orders/bulk/job-cancel-1"' in history
    [row] = await audit_rows(console.store, action="bulk.cancel")
    assert (row.subject, row.outcome) == ("job-cancel-1", "succeeded")


async def test_a_running_job_page_refreshes_its_progress(
    console: Console, executor: FakeExecutor
) -> None:
    executor.gate = asyncio.Event()
    form = {"scope": "filter", "action": "cancel", "queue": "shipping", "idempotency_key": "job-r"}
    response = await post(console.client, "/apps/orders/bulk", form)
    assert response.status_code == 303
    html = await page(console.client, "/apps/orders/bulk/job-r")
    assert 'data-testid="job-state" data-state="running"' in html
    assert 'id="live" data-refresh-ms="5000"' in html
    partial = await console.client.get(
        "/apps/orders/bulk/job-r", headers={"X-Baton-Partial": "live"}
    )
    assert "<html" not in partial.text
    assert "0 of 3 done" in partial.text
    assert 'data-refresh-ms="5000"' in await page(console.client, "/apps/orders/bulk")

    executor.gate.set()
    await console.app.state.bulk.wait("job-r")
    done = await page(console.client, "/apps/orders/bulk/job-r")
    assert "3 of 3 done: 3 succeeded, 0 failed" in done


async def test_a_failed_bulk_item_shows_its_error_escaped(
    console: Console, executor: FakeExecutor
) -> None:
    executor.error = XSS
    form = {"scope": "selected", "action": "delete", "workflow_id": "wf-001"}
    response = await post(console.client, "/apps/orders/bulk", {**form, "idempotency_key": "j-f"})
    await console.app.state.bulk.wait("j-f")
    html = await page(console.client, response.headers["location"])
    assert 'data-testid="job-state" data-state="failed"' in html
    assert 'data-outcome="failed"' in html
    assert XSS not in html
    assert ESCAPED_XSS in html


async def test_unknown_bulk_job_is_a_404(console: Console) -> None:
    html = await page(console.client, "/apps/orders/bulk/nope", 404)
    assert "no bulk job" in html


async def test_bulk_start_without_same_origin_is_refused(
    console: Console, executor: FakeExecutor
) -> None:
    response = await console.client.post(
        "/apps/orders/bulk",
        data={"scope": "selected", "action": "cancel", "workflow_id": "wf-003"},
        headers=HTML,
    )
    assert response.status_code == 403
    assert await console.app.state.bulk.history(ORDERS) == []
