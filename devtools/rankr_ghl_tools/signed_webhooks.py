"""A GHL-side contact edit and its ContactUpdate webhook, signed as the GHL sandbox signs (for benches)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any


def signed_contact_update(
    stack: Any, contact_id: str, changes: dict[str, Any]
) -> tuple[bytes, dict[str, str]]:
    """Apply `changes` to the contact in the stack's GHL sandbox without its own webhook, and return the
    ContactUpdate webhook's body and headers (signed with the sandbox's key, which LocalStack trusts)."""
    store, signer = stack.ghl.app.store, stack.ghl.app.webhooks.signer
    record = store.update_contact(contact_id, changes, emit=False)
    envelope = {
        **store.contact_event("ContactUpdate", record),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "webhookId": str(uuid.uuid4()),
    }
    body = json.dumps(envelope, separators=(",", ":")).encode()
    return body, {"Content-Type": "application/json", **signer.sign(body)}
