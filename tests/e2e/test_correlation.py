"""One correlation id follows a GHL webhook from the intake's log line, through the worker's log line,
to the audit entry of the Rankr write.

Real path: GHL sandbox emits a signed webhook -> gateway -> WebhookIntakeFunction -> FIFO queue ->
SQS pump -> WebhookWorkerFunction -> Rankr sandbox + AuditTable. Handler output is the stack's log file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import install_location, new_id
from rankr_ghl_tools.local.stack import LocalStack

pytestmark = pytest.mark.e2e


def _log_lines(stack: LocalStack, function: str) -> list[dict[str, Any]]:
    lines = []
    for raw in Path(stack.log_file).read_text().splitlines():  # type: ignore[attr-defined]
        name, _, rest = raw.partition(" ")
        if name != function or not rest.startswith("{"):
            continue
        try:
            lines.append(json.loads(rest))
        except ValueError:
            continue
    return lines


def _webhook_id(stack: LocalStack, event_type: str, contact_id: str) -> str:
    events = [
        e
        for e in stack.ghl.admin.webhook_events()
        if e.get("type") == event_type and e.get("id") == contact_id
    ]
    assert len(events) == 1, events
    return str(events[0]["webhookId"])


def _audit_entries(stack: LocalStack, location_id: str, ghl_id: str) -> list[dict[str, Any]]:
    table = stack.template.tables["AuditTable"].name  # type: ignore[union-attr]
    items = stack.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"LOC#{location_id}"}},
    )["Items"]
    plain = [{k: next(iter(v.values())) for k, v in item.items()} for item in items]
    return [item for item in plain if item.get("ghlId") == ghl_id]


def _chain(stack: LocalStack, location_id: str, event_type: str, contact_id: str, action: str) -> str:
    """The correlation id of one event, asserted equal in all three places; returns it."""
    webhook_id = _webhook_id(stack, event_type, contact_id)
    accepted = [
        line
        for line in _log_lines(stack, "WebhookIntakeFunction")
        if line.get("message") == "webhook accepted" and line.get("webhook_id") == webhook_id
    ]
    assert len(accepted) == 1, accepted
    correlation_id = accepted[0].get("correlation_id")
    assert isinstance(correlation_id, str) and correlation_id

    processed = [
        line
        for line in _log_lines(stack, "WebhookWorkerFunction")
        if line.get("message") == "webhook event processed" and line.get("ghl_id") == contact_id
        and line.get("event_type") == event_type
    ]  # fmt: skip
    assert [line.get("correlation_id") for line in processed] == [correlation_id], processed
    assert processed[0]["outcome"] == "written"

    audited = [a for a in _audit_entries(stack, location_id, contact_id) if a.get("action") == action]
    assert [a.get("correlationId") for a in audited] == [correlation_id], audited
    assert audited[0].get("flow") == "webhook"
    return correlation_id


def test_correlation_id_follows_a_webhook_from_intake_to_worker_to_audit(e2e_stack: LocalStack) -> None:
    stack = e2e_stack
    location_id, account_id = new_id("loc"), new_id("acct")
    install_location(stack, location_id, account_id)
    stack.ghl.admin.clear_faults()
    stack.ghl.admin.webhooks(urls=[stack.output_url("WebhookUrl")])  # no delivery faults: one delivery each

    contact = stack.ghl.admin.create(location_id, "contact", {"firstName": "Ada", "lastName": "Byron"})
    contact_id = str(contact["id"])
    stack.ghl.admin.flush(timeout_s=30)
    stack.drain(timeout=60)
    created = _chain(stack, location_id, "ContactCreate", contact_id, "create")

    stack.ghl.admin.edit(location_id, "contact", contact_id, {"lastName": "Lovelace"})
    stack.ghl.admin.flush(timeout_s=30)
    stack.drain(timeout=60)
    updated = _chain(stack, location_id, "ContactUpdate", contact_id, "update")

    # Each event carries its own id (not a constant that would match anything).
    assert created != updated
    (rankr_contact,) = stack.rankr.admin.state(account_id)["contacts"]
    assert rankr_contact["lastName"] == "Lovelace"
