"""The dashboard's actions on one workflow over a real seeded store and a fake executor behind a
real ``CommandChannel``: confirmation pages, same-origin form posts, actions that redirect with
their audited outcome, escaped failures."""

from __future__ import annotations

import asyncio
import re

import pytest

from management.idempotency import derived_workflow_id
from store.database import Store
from streams.records import RequestKind
from tests.component.console.dashboard_client import (
    ESCAPED_XSS,
    Console,
    FakeExecutor,
    form_action,
    hidden,
    page,
    post,
    serve,
)
from tests.component.console.seed import BILLING, ORDERS, XSS, audit_rows
from tests.console_access import TESTER_ACTOR


async def test_confirmation_page_asks_and_carries_a_fresh_key(console: Console) -> None:
    html = await page(console.client, "/apps/orders/workflows/wf-003/confirm?action=cancel")
    assert "Cancel workflow" in html
    assert 'data-testid="confirm-subject">wf-003</span>' in html
    assert form_action(html) == "/apps/orders/workflows/wf-003/actions/cancel"
    assert re.fullmatch(r"[0-9a-f]{32}", hidden(html, "idempotency_key"))
    assert 'href="/apps/orders/workflows/wf-003" data-testid="back-button"' in html
    assert "<dt>Status</dt><dd>PENDING</dd>" in html
    again = await page(console.client, "/apps/orders/workflows/wf-003/confirm?action=cancel")
    assert hidden(again, "idempotency_key") != hidden(html, "idempotency_key")


async def test_confirmation_of_an_odd_id_posts_to_its_encoded_path(console: Console) -> None:
    html = await page(
        console.client, "/apps/orders/workflows/dir%2Fwith%3Fodd%23id/confirm?action=delete"
    )
    assert form_action(html) == "/apps/orders/workflows/dir%2Fwith%3Fodd%23id/actions/delete"
    assert 'name="delete_children"' in html


async def test_fork_confirmation_keeps_the_chosen_options(console: Console) -> None:
    html = await page(
        console.client,
        "/apps/orders/workflows/wf-001/confirm",
        params={"action": "fork", "start_step": "2", "queue_name": 'q"1'},
    )
    assert 'name="start_step" type="number" value="2"' in html
    assert 'value="q&#34;1"' in html


async def test_detail_page_offers_the_actions_of_its_status(console: Console) -> None:
    pending = await page(console.client, "/apps/orders/workflows/wf-003")
    for action in ("cancel", "resume", "restart", "fork", "delete"):
        assert f'data-testid="action-{action}"' in pending
    assert 'href="/apps/orders/workflows/wf-003/confirm?action=cancel"' in pending
    assert 'data-testid="action-rewind"' not in pending  # only a finished workflow rewinds
    done = await page(console.client, "/apps/orders/workflows/wf-001")
    assert 'data-testid="action-cancel"' not in done
    assert 'data-testid="action-resume"' not in done
    assert 'data-testid="action-restart"' in done
    assert 'href="/apps/orders/workflows/wf-001/confirm?action=rewind"' in done
    # Each step offers a fork from it.
    assert 'href="/apps/orders/workflows/wf-001/confirm?action=fork&amp;start_step=2"' in done


async def test_unknown_action_is_a_404(console: Console) -> None:
    await page(console.client, "/apps/orders/workflows/wf-003/confirm?action=explode", 404)
    response = await post(console.client, "/apps/orders/workflows/wf-003/actions/explode", {})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "text/html"},
        {"Accept": "text/html", "Origin": "http://evil.example"},
        {"Accept": "text/html", "Sec-Fetch-Site": "cross-site", "Origin": "http://console"},
    ],
)
async def test_form_post_from_elsewhere_is_refused(
    console: Console, executor: FakeExecutor, headers: dict[str, str]
) -> None:
    response = await console.client.post(
        "/apps/orders/workflows/wf-003/actions/cancel",
        data={"idempotency_key": "k-evil"},
        headers=headers,
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert executor.requests == []
    assert await audit_rows(console.store) == []


async def test_cancel_redirects_to_the_workflow_with_its_audited_outcome(
    console: Console, executor: FakeExecutor
) -> None:
    response = await post(
        console.client,
        "/apps/orders/workflows/wf-003/actions/cancel",
        {"idempotency_key": "key-cancel-1"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/apps/orders/workflows/wf-003?done=key-cancel-1"
    [request] = executor.acts(RequestKind.CANCEL)
    assert request.target == "e1"
    assert dict(request.params) == {"cancel_children": False}

    html = await page(console.client, response.headers["location"])
    assert 'data-testid="flash" data-outcome="succeeded"' in html
    assert 'Cancel of <span class="mono">wf-003</span>: succeeded.' in html
    assert 'data-testid="status">CANCELLED<' in html

    [row] = await audit_rows(console.store)
    assert (row.app, row.actor, row.action, row.subject, row.outcome) == (
        "orders",
        TESTER_ACTOR,
        "workflow.cancel",
        "wf-003",
        "succeeded",
    )
    assert [r.action_id for r in executor.audited] == ["key-cancel-1"]


async def test_a_double_submit_acts_once(console: Console, executor: FakeExecutor) -> None:
    path = "/apps/orders/workflows/wf-004/actions/cancel"
    form = {"idempotency_key": "key-twice", "cancel_children": "on"}
    first, second = await asyncio.gather(
        post(console.client, path, form), post(console.client, path, form)
    )
    third = await post(console.client, path, form)
    assert {first.status_code, second.status_code, third.status_code} == {303}
    assert third.headers["location"] == first.headers["location"]
    [request] = executor.acts(RequestKind.CANCEL)
    assert request.params["cancel_children"] is True
    assert len(await audit_rows(console.store, action="workflow.cancel")) == 1


async def test_an_executor_error_is_shown_escaped_with_its_status(
    console: Console, executor: FakeExecutor
) -> None:
    executor.error = f"workflow is busy {XSS}"
    response = await post(
        console.client,
        "/apps/orders/workflows/wf-002/actions/resume",
        {"idempotency_key": "key-fails"},
    )
    assert response.status_code == 502
    html = response.text
    assert XSS not in html
    assert f"workflow is busy {ESCAPED_XSS}" in html
    assert 'data-testid="action-error"' in html
    # Confirming again is a new attempt: the page carries a new key.
    assert hidden(html, "idempotency_key") != "key-fails"
    [row] = await audit_rows(console.store)
    assert (row.action, row.outcome) == ("workflow.resume", "failed")


async def test_no_executor_of_the_app_is_a_503_saying_so(console: Console) -> None:
    response = await post(
        console.client, "/apps/billing/workflows/inv-1/actions/cancel", {"idempotency_key": "k-b"}
    )
    assert response.status_code == 503
    assert "no executor of app billing is connected" in response.text
    assert "Cancel workflow" in response.text
    [row] = await audit_rows(console.store, app=BILLING)
    assert row.outcome == "rejected"


async def test_resume_needs_an_executor_of_the_workflow_version(
    console: Console, executor: FakeExecutor
) -> None:
    response = await post(
        console.client, "/apps/orders/workflows/bulk-000/actions/resume", {"idempotency_key": "k"}
    )
    assert response.status_code == 409
    assert "no executor of application version v2" in response.text
    assert executor.requests == []


async def test_a_bad_option_shows_the_confirmation_again_with_a_400(
    console: Console, executor: FakeExecutor
) -> None:
    response = await post(
        console.client,
        "/apps/orders/workflows/wf-001/actions/fork",
        {"idempotency_key": "k-fork", "start_step": "-1", "application_version": "v9"},
    )
    assert response.status_code == 400
    assert "start_step" in response.text
    assert 'value="v9"' in response.text  # what was typed stays
    assert executor.requests == []


async def test_fork_shows_the_new_workflow(console: Console, executor: FakeExecutor) -> None:
    response = await post(
        console.client,
        "/apps/orders/workflows/wf-001/actions/fork",
        {"idempotency_key": "k-fork-2", "start_step": "2"},
    )
    assert response.status_code == 303
    [request] = executor.acts(RequestKind.FORK)
    new_id = derived_workflow_id(ORDERS, "k-fork-2")
    assert dict(request.params) == {"start_step": 2, "new_workflow_id": new_id}
    html = await page(console.client, response.headers["location"])
    assert f'href="/apps/orders/workflows/{new_id}"' in html


async def test_rewind_is_confirmed_then_keeps_the_workflow_id(
    console: Console, executor: FakeExecutor, seeded_store: Store
) -> None:
    html = await page(console.client, "/apps/orders/workflows/wf-001/confirm?action=rewind")
    assert "Rewind workflow" in html
    assert "under its own id" in html
    assert 'name="start_step"' in html
    assert form_action(html) == "/apps/orders/workflows/wf-001/actions/rewind"
    response = await post(
        console.client,
        "/apps/orders/workflows/wf-001/actions/rewind",
        {"idempotency_key": "k-rewind-1", "start_step": "2"},
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/apps/orders/workflows/wf-001")
    [request] = executor.acts(RequestKind.REWIND)
    assert (request.workflow_id, dict(request.params)) == ("wf-001", {"start_step": 2})
    [row] = await audit_rows(seeded_store, action="workflow.rewind")
    assert (row.subject, row.outcome, row.actor) == ("wf-001", "succeeded", TESTER_ACTOR)


async def test_delete_goes_back_to_the_list_with_the_outcome(
    console: Console, executor: FakeExecutor
) -> None:
    response = await post(
        console.client,
        "/apps/orders/workflows/wf-007/actions/delete",
        {"idempotency_key": "k-del", "delete_children": "on"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/apps/orders/workflows?done=k-del"
    assert executor.acts(RequestKind.DELETE)[0].params["delete_children"] is True
    html = await page(console.client, response.headers["location"])
    assert 'data-testid="flash" data-outcome="succeeded"' in html


async def test_an_anonymous_action_is_refused_and_changes_nothing(seeded_store: Store) -> None:
    executor = FakeExecutor(store=seeded_store)
    async with serve(seeded_store, executor, authorize=False) as c:
        response = await post(
            c.client, "/apps/orders/workflows/wf-003/actions/cancel", {"idempotency_key": "k"}
        )
    assert response.status_code == 401
    assert "sign in" in response.text
    assert executor.requests == []
