"""The pure checks of one delivery: body decoding, envelope shapes, ids, timestamps, the queue message
and the problem document of a refusal."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rankr_ghl.flows.intake.model import (
    _RESOURCE_ID_RE,
    _SQS_DEDUP_ID_RE,
    QueuedWebhook,
    RawWebhookRequest,
    ValidatedWebhook,
    WebhookRejected,
)
from rankr_ghl.flows.queue_message import (
    APPOINTMENT_EVENTS,
    CONTACT_EVENTS,
    MESSAGE_SCHEMA_VERSION,
    NOTE_EVENTS,
    TASK_EVENTS,
)

if TYPE_CHECKING:
    # Only the intake verifies (and so imports cryptography); the worker imports this module too.
    pass


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def _reject_constant(token: str) -> Any:
    raise ValueError(f"non-standard JSON constant {token}")


def decode_body(request: RawWebhookRequest, max_body_bytes: int) -> bytes:
    """The exact bytes GHL sent (base64-decoded when API Gateway encoded them)."""
    body = request.body
    if body is None:
        raise WebhookRejected(400, "empty_body", "request body is empty")
    if request.is_base64_encoded:
        # Cheap pre-check so a huge base64 string is not decoded just to be refused.
        if len(body) > (max_body_bytes + 2) // 3 * 4 + 4:
            raise WebhookRejected(413, "body_too_large", f"body exceeds {max_body_bytes} bytes")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise WebhookRejected(400, "invalid_base64", "isBase64Encoded body is not valid base64") from exc
    else:
        raw = body.encode("utf-8", errors="surrogateescape") if isinstance(body, str) else bytes(body)
    if not raw:
        raise WebhookRejected(400, "empty_body", "request body is empty")
    if len(raw) > max_body_bytes:
        raise WebhookRejected(413, "body_too_large", f"body exceeds {max_body_bytes} bytes")
    return raw


def parse_timestamp(value: Any) -> datetime:
    """ISO-8601 string (GHL's form) or epoch seconds/milliseconds."""
    if isinstance(value, bool):
        raise ValueError("boolean timestamp")
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else float(value)
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str) and 10 <= len(value) <= 40:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError("timestamp is neither ISO-8601 nor epoch")


def normalise_envelope(document: dict[str, Any]) -> dict[str, Any]:
    """Flat event dict from either envelope shape.

    Flat (event docs): `{type, locationId, id, ...}`. Wrapped (integration guide):
    `{type?, timestamp, webhookId, data: {...}}`; envelope fields win for type/timestamp/webhookId.
    """
    data = document.get("data")
    if isinstance(data, dict) and "locationId" not in document and "id" not in document:
        event = dict(data)
        for key, value in document.items():
            if key != "data" and (key not in event or key in {"type", "timestamp", "webhookId"}):
                event[key] = value
        return event
    return document


def _resource_id(event: Mapping[str, Any], key: str) -> str | None:
    value = event.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _RESOURCE_ID_RE.match(value):
        raise WebhookRejected(422, f"invalid_{_snake(key)}", f"{key} is not a valid GHL id")
    return value


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def check_entity(event_type: str, event: Mapping[str, Any]) -> None:
    if event_type in APPOINTMENT_EVENTS:
        appointment = event.get("appointment")
        if not isinstance(appointment, dict) or _resource_id(appointment, "id") is None:
            raise WebhookRejected(422, "missing_entity_id", f"{event_type} has no appointment.id")
    elif event_type in CONTACT_EVENTS | TASK_EVENTS | NOTE_EVENTS:
        if _resource_id(event, "id") is None:
            raise WebhookRejected(422, "missing_entity_id", f"{event_type} has no id")
        if event_type not in CONTACT_EVENTS:
            _resource_id(event, "contactId")


def sqs_deduplication_id(dedupe_key: str) -> str:
    """`dedupe_key` when SQS accepts it as MessageDeduplicationId, else its hash."""
    if _SQS_DEDUP_ID_RE.match(dedupe_key):
        return dedupe_key
    return "h:" + hashlib.sha256(dedupe_key.encode()).hexdigest()


def build_message(webhook: ValidatedWebhook, correlation_id: str, received_at: float) -> QueuedWebhook:
    body = {
        "v": MESSAGE_SCHEMA_VERSION,
        "eventType": webhook.event_type,
        "webhookId": webhook.webhook_id,
        "dedupeKey": webhook.dedupe_key,
        "locationId": webhook.location_id,
        "companyId": webhook.company_id,
        "correlationId": correlation_id,
        "receivedAt": datetime.fromtimestamp(received_at, tz=UTC).isoformat(timespec="milliseconds"),
        "signatureScheme": webhook.signature_scheme,
        "event": webhook.event,
    }
    attributes = {"eventType": webhook.event_type, "correlationId": correlation_id}
    if webhook.location_id:
        attributes["locationId"] = webhook.location_id
    if webhook.company_id:
        attributes["companyId"] = webhook.company_id
    return QueuedWebhook(
        group_id=webhook.group_id,
        deduplication_id=sqs_deduplication_id(webhook.dedupe_key),
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        attributes=attributes,
    )


def problem_document(
    status: int, reason: str, detail: str, correlation_id: str | None = None
) -> dict[str, Any]:
    """RFC 9457 problem JSON for a refused delivery."""
    problem: dict[str, Any] = {
        "type": f"https://rankr.example/problems/webhook/{reason.replace('_', '-')}",
        "title": reason.replace("_", " "),
        "status": status,
        "detail": detail,
        "reason": reason,
    }
    if correlation_id:
        problem["correlationId"] = correlation_id
    return problem
