"""The management API's audit log: filters and cursor pages.

Seeded world (``seed.py``): app ``orders`` with executor ``e1`` (v1) CONNECTED and ``e0`` DEAD;
workflows ``wf-001``... on v1; executors are played by ``FakeChannel``.
"""

from __future__ import annotations

import httpx

WF = "/api/v1/apps/orders/workflows"


async def test_audit_api_filters_and_pages(api: httpx.AsyncClient) -> None:
    for workflow_id in ("wf-001", "wf-002", "wf-003"):
        await api.post(f"{WF}/{workflow_id}/cancel")
    await api.post("/api/v1/apps/payments/workflows/x/cancel")
    page = (await api.get("/api/v1/audit", params={"app": "orders", "limit": 2})).json()
    assert [e["target"] for e in page["entries"]] == ["wf-003", "wf-002"]
    rest = (
        await api.get("/api/v1/audit", params={"app": "orders", "cursor": page["next_cursor"]})
    ).json()
    assert [e["target"] for e in rest["entries"] if e["action"] == "workflow.cancel"] == ["wf-001"]
    rejected = (await api.get("/api/v1/audit", params={"outcome": "rejected"})).json()
    assert [e["app"] for e in rejected["entries"]] == ["payments"]
    prefix = (await api.get("/api/v1/audit", params={"action": "workflow."})).json()
    assert len(prefix["entries"]) == 4
    bad = await api.get("/api/v1/audit", params={"since": "yesterday"})
    assert bad.status_code == 400
