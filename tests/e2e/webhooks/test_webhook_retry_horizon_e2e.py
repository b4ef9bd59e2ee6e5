"""GHL's own retry of a delivery, resent with its original signed body half an hour later, is accepted
once through the real gateway, intake and queue; a second copy of it is answered as a duplicate."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from webhook_e2e_helpers import WebhookEnv

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _iso(offset_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + offset_s))


def test_a_30_minute_old_genuine_retry_is_accepted_once(wh: WebhookEnv) -> None:
    location_id, _account = wh.install_location()
    envelope = {
        "type": "ContactUpdate",
        "locationId": location_id,
        "id": f"c{uuid.uuid4().hex[:20]}",
        "webhookId": str(uuid.uuid4()),
        "timestamp": _iso(-30 * 60),
    }
    body = json.dumps(envelope, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", **wh.ghl.app.webhooks.signer.sign(body)}
    url = f"{wh.stack.gateway_url}/webhooks/ghl"
    with httpx.Client(timeout=30) as http:
        first = http.post(url, content=body, headers=headers)
        second = http.post(url, content=body, headers=headers)
    assert (first.status_code, first.json()["status"]) == (202, "accepted"), first.text
    assert (second.status_code, second.json()["status"]) == (200, "duplicate"), second.text


@pytest.mark.parametrize("wire_format", ["compact", "pretty", "ascii_escaped"])
def test_a_contact_event_syncs_whatever_the_wire_format(wh: WebhookEnv, wire_format: str) -> None:
    """The sandbox signs compact JSON and sends it as the variant says; the event still reaches Rankr."""
    location_id, account_id = wh.install_location()
    wh.ghl.admin.variants(location_id, wire_format=wire_format)
    try:
        contact_id = str(
            wh.ghl.admin.create(
                location_id, "contact", {"firstName": "Zoë", "lastName": "Ünal"}, emit_webhook=False
            )["id"]
        )
        wh.ghl.admin.emit("ContactCreate", location_id=location_id, entity_id=contact_id)
        wh.settle()
        contacts = wh.rankr_state(account_id)["contacts"]
        assert [c["firstName"] for c in contacts] == ["Zoë"], contacts
    finally:
        wh.ghl.admin.reset_variants(location_id)
