"""Task events without `contactId` under every task-search variant of the GHL sandbox: a synced task is
never soft-deleted on a search miss, and a new one is mirrored whenever the search names its contact."""

from __future__ import annotations

from typing import Any

import pytest
from webhook_e2e_helpers import WebhookEnv

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.mark.parametrize("contact_key", ["contactId", "contactIds", "contact", None])
def test_task_events_without_contact_id(wh: WebhookEnv, contact_key: str | None) -> None:
    admin = wh.ghl.admin
    location_id, account_id = wh.install_location()
    base: dict[str, Any] = {"firstName": "Ada", "email": f"ada{location_id[-6:]}@example.com"}
    contact_id = str(admin.create(location_id, "contact", base, emit_webhook=False)["id"])
    admin.emit("ContactCreate", location_id=location_id, entity_id=contact_id)
    fields = {"title": "Compile", "dueDate": "2026-05-01T09:00:00Z", "completed": False}
    first = admin.create(location_id, "task", fields, contact_id=contact_id, emit_webhook=False)
    admin.emit("TaskCreate", location_id=location_id, entity_id=first["id"])
    wh.settle()
    assert [t["title"] for t in wh.rankr_state(account_id)["tasks"]] == ["Compile"]

    admin.variants(
        location_id,
        task_event_contact_id="omitted",
        task_search={"contact_key": contact_key, "order": "unstable", "max_limit": 20},
    )
    try:
        admin.edit(
            location_id, "task", first["id"], {"completed": True}, contact_id=contact_id, emit_webhook=False
        )
        admin.emit("TaskComplete", location_id=location_id, entity_id=first["id"])
        second = admin.create(
            location_id, "task", {**fields, "title": "Link"}, contact_id=contact_id, emit_webhook=False
        )
        admin.emit("TaskCreate", location_id=location_id, entity_id=second["id"])
        wh.settle()
    finally:
        admin.reset_variants(location_id)

    tasks = {t["title"]: t for t in wh.rankr_state(account_id)["tasks"]}
    assert not tasks["Compile"]["deletedAt"] and tasks["Compile"]["completed"] is True  # via the mapping
    if contact_key is None:
        assert "Link" not in tasks  # the search cannot name the contact: skipped, not guessed
    else:
        assert not tasks["Link"]["deletedAt"]
    assert wh.dlq_depth() == 0
