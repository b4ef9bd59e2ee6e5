"""Webhook intake: authenticate, validate, dedupe and queue one GHL webhook delivery.

Two stages, so the CPU part can be measured and tested without I/O:
- `WebhookIntake.validate(request)`: body decoding, size limit, signature over the exact raw bytes,
  JSON, envelope shape, appId, timestamp window. Pure; raises `WebhookRejected` (a 4xx).
- `WebhookIntake.handle(request)`: validate, then claim the dedupe key (conditional write with TTL)
  and send to the FIFO queue (group = location, dedup id = webhookId). A failed send releases the
  claim and raises `EnqueueFailed` (a 503) so GHL retries and nothing is lost.

Decisions (see docs/queue-design.md):
- Unknown event types are acknowledged (202) and counted, not queued: rejecting would make GHL retry
  an event we will never handle, and GHL's circuit breaker pauses URLs with a low success rate.
- A missing `webhookId` dedupes on `body:<sha256 of the raw body>`: a retry of the same delivery
  carries the same bytes, while a different event never hashes alike.
- A missing `timestamp` is accepted (GHL's event docs omit it); when present it must fall inside the
  window both ways. A replay is harmless anyway: the worker fetches current state.
- Paused/uninstalled connections are checked by the worker (one GetItem per event, always current).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from rankr_ghl.flows.queue_message import (
    APP_EVENTS,
    APPOINTMENT_EVENTS,
    CONTACT_EVENTS,
    MESSAGE_SCHEMA_VERSION,
    NOTE_EVENTS,
    SUPPORTED_EVENT_TYPES,
    TASK_EVENTS,
)
from rankr_ghl.observability import logger
from rankr_ghl.ports import Counter, NullCounter
from rankr_ghl.sync.ports import DedupeStore

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    # Only the intake verifies (and so imports cryptography); the worker imports this module too.
    from rankr_ghl.ghl.signatures import SignatureVerifier

DEFAULT_MAX_BODY_BYTES: Final = 192 * 1024  # leaves room for our envelope within SQS's 256 KiB
DEFAULT_TIMESTAMP_WINDOW_S: Final = 300
DEFAULT_DEDUPE_TTL_S: Final = 24 * 3600
MAX_TYPE_LEN: Final = 64
MAX_WEBHOOK_ID_LEN: Final = 256

# GHL ids are 20-24 alphanumerics; anything else must not reach queue group ids or table keys.
_RESOURCE_ID_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# SQS MessageDeduplicationId: up to 128 chars of alphanumerics and punctuation.
_SQS_DEDUP_ID_RE: Final = re.compile(r"^[!-~]{1,128}$")

Outcome = Literal["accepted", "duplicate", "ignored"]

# Metric names (Powertools EMF, namespace from observability).
METRIC_RECEIVED: Final = "WebhooksReceived"
METRIC_ACCEPTED: Final = "WebhooksAccepted"
METRIC_REJECTED: Final = "WebhooksRejected"  # dimension `reason`
METRIC_DUPLICATE: Final = "WebhooksDuplicate"
METRIC_UNKNOWN_TYPE: Final = "WebhooksUnknownType"
METRIC_ENQUEUE_FAILED: Final = "WebhooksEnqueueFailed"
METRIC_DEDUPE_FAILED: Final = "WebhooksDedupeFailed"


# ---------------------------------------------------------------------------------------------- errors
class WebhookRejected(Exception):
    """Bad input: answer `status` with a problem document; nothing was queued."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


class EnqueueFailed(Exception):
    """The event could not be queued (or deduped); answer 503 so GHL retries."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# ----------------------------------------------------------------------------------------------- ports
class EventQueue(Protocol):
    def send(self, message: QueuedWebhook) -> str:
        """Queue the message; return the queue's message id. Raises on failure."""


# ---------------------------------------------------------------------------------------------- models
@dataclass(frozen=True, slots=True)
class IntakeConfig:
    app_id: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    timestamp_window_s: int = DEFAULT_TIMESTAMP_WINDOW_S
    dedupe_ttl_s: int = DEFAULT_DEDUPE_TTL_S


@dataclass(frozen=True, slots=True)
class RawWebhookRequest:
    """What API Gateway handed us: the body exactly as received."""

    body: str | bytes | None
    headers: Mapping[str, str]
    is_base64_encoded: bool = False
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class ValidatedWebhook:
    event_type: str
    supported: bool
    event: dict[str, Any]
    webhook_id: str | None
    dedupe_key: str
    location_id: str | None
    company_id: str | None
    timestamp: datetime | None
    signature_scheme: str
    body_sha256: str

    @property
    def group_id(self) -> str:
        group = self.location_id or self.company_id
        if group is None:  # validate() guarantees one of them for supported events
            raise ValueError("webhook has neither locationId nor companyId")
        return group


@dataclass(frozen=True, slots=True)
class QueuedWebhook:
    """One SQS FIFO message. `body` is the JSON the worker reads (`parse_queued_message`)."""

    group_id: str
    deduplication_id: str
    body: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IntakeResult:
    outcome: Outcome
    status: int
    event_type: str | None
    webhook_id: str | None
    correlation_id: str
    message_id: str | None = None


# ------------------------------------------------------------------------------------------- helpers
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


def _check_entity(event_type: str, event: Mapping[str, Any]) -> None:
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


# ------------------------------------------------------------------------------------------- service
class WebhookIntake:
    def __init__(
        self,
        *,
        verifier: SignatureVerifier,
        dedupe: DedupeStore,
        queue: EventQueue,
        config: IntakeConfig,
        metrics: Counter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._verifier = verifier
        self._dedupe = dedupe
        self._queue = queue
        self._config = config
        self._metrics = metrics or NullCounter()
        self._clock = clock

    @property
    def config(self) -> IntakeConfig:
        return self._config

    @property
    def verifier(self) -> SignatureVerifier:
        return self._verifier

    def validate(self, request: RawWebhookRequest) -> ValidatedWebhook:
        """Authenticate and validate one delivery without any I/O; raise `WebhookRejected`."""
        config = self._config
        content_type = header_value(request.headers, "content-type")
        if content_type and "json" not in content_type.lower():
            raise WebhookRejected(415, "unsupported_media_type", "Content-Type must be application/json")

        from rankr_ghl.ghl.signatures import SignatureError

        raw = decode_body(request, config.max_body_bytes)
        try:
            verified = self._verifier.verify(raw, request.headers)
        except SignatureError as exc:
            raise WebhookRejected(401, exc.reason, exc.detail) from exc

        try:
            document = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise WebhookRejected(400, "invalid_json", "body is not valid UTF-8 JSON") from exc
        if not isinstance(document, dict):
            raise WebhookRejected(400, "invalid_envelope", "body must be a JSON object")
        event = normalise_envelope(document)

        event_type = event.get("type")
        if not isinstance(event_type, str) or not event_type.strip():
            raise WebhookRejected(422, "missing_type", "event has no type")
        if len(event_type) > MAX_TYPE_LEN:
            raise WebhookRejected(422, "invalid_type", "event type is too long")

        app_id = event.get("appId")
        if app_id is not None and config.app_id and app_id != config.app_id:
            raise WebhookRejected(403, "foreign_app", "appId does not match this app")

        timestamp = None
        if event.get("timestamp") is not None:
            try:
                timestamp = parse_timestamp(event["timestamp"])
            except (ValueError, OverflowError, OSError) as exc:
                raise WebhookRejected(400, "invalid_timestamp", "timestamp is not a valid date") from exc
            age = self._clock() - timestamp.timestamp()
            if age > config.timestamp_window_s:
                raise WebhookRejected(400, "stale_timestamp", "timestamp is outside the accepted window")
            if -age > config.timestamp_window_s:
                raise WebhookRejected(400, "future_timestamp", "timestamp is too far in the future")

        webhook_id = event.get("webhookId")
        if webhook_id is not None and (
            not isinstance(webhook_id, str) or not webhook_id.strip() or len(webhook_id) > MAX_WEBHOOK_ID_LEN
        ):
            raise WebhookRejected(422, "invalid_webhook_id", "webhookId must be a non-empty string")
        body_sha256 = hashlib.sha256(raw).hexdigest()
        dedupe_key = f"webhook:{webhook_id}" if webhook_id else f"body:{body_sha256}"

        supported = event_type in SUPPORTED_EVENT_TYPES
        location_id = company_id = None
        if supported:
            location_id = _resource_id(event, "locationId")
            company_id = _resource_id(event, "companyId")
            if location_id is None and (event_type not in APP_EVENTS or company_id is None):
                raise WebhookRejected(422, "missing_location", f"{event_type} has no locationId")
            _check_entity(event_type, event)

        return ValidatedWebhook(
            event_type=event_type,
            supported=supported,
            event=event,
            webhook_id=webhook_id,
            dedupe_key=dedupe_key,
            location_id=location_id,
            company_id=company_id,
            timestamp=timestamp,
            signature_scheme=verified.scheme,
            body_sha256=body_sha256,
        )

    def handle(self, request: RawWebhookRequest) -> IntakeResult:
        """Validate, dedupe and queue. Raises `WebhookRejected` (4xx) or `EnqueueFailed` (503)."""
        correlation_id = request.correlation_id or str(uuid.uuid4())
        metrics = self._metrics
        metrics.count(METRIC_RECEIVED)
        try:
            webhook = self.validate(request)
        except WebhookRejected as exc:
            metrics.count(METRIC_REJECTED, exc.reason)
            logger.warning(
                "webhook rejected",
                extra={"reason": exc.reason, "status": exc.status, "correlation_id": correlation_id},
            )
            raise

        log_ids = {
            "event_type": webhook.event_type,
            "webhook_id": webhook.webhook_id,
            "location_id": webhook.location_id,
            "company_id": webhook.company_id,
            "correlation_id": correlation_id,
        }
        if not webhook.supported:
            metrics.count(METRIC_UNKNOWN_TYPE)
            logger.info("webhook type not handled; acknowledged", extra=log_ids)
            return IntakeResult("ignored", 202, webhook.event_type, webhook.webhook_id, correlation_id)

        ttl = max(self._config.dedupe_ttl_s, 2 * self._config.timestamp_window_s)
        try:
            claimed = self._dedupe.claim_once(webhook.dedupe_key, ttl)
        except Exception as exc:
            metrics.count(METRIC_DEDUPE_FAILED)
            logger.exception("webhook dedupe store unavailable", extra=log_ids)
            raise EnqueueFailed("dedupe_unavailable", "could not record the delivery; retry later") from exc
        if not claimed:
            metrics.count(METRIC_DUPLICATE)
            logger.info("duplicate webhook delivery", extra=log_ids)
            return IntakeResult("duplicate", 200, webhook.event_type, webhook.webhook_id, correlation_id)

        message = build_message(webhook, correlation_id, self._clock())
        try:
            message_id = self._queue.send(message)
        except Exception as exc:
            metrics.count(METRIC_ENQUEUE_FAILED)
            logger.exception("webhook enqueue failed; releasing dedupe claim", extra=log_ids)
            try:
                self._dedupe.release(webhook.dedupe_key)
            except Exception:
                # The claim expires on its own; GHL's retries are then dropped as duplicates until
                # the TTL passes, and the nightly reconcile repairs the entity.
                logger.exception("could not release dedupe claim", extra=log_ids)
            raise EnqueueFailed("enqueue_failed", "could not queue the event; retry later") from exc

        metrics.count(METRIC_ACCEPTED)
        logger.info("webhook accepted", extra={**log_ids, "message_id": message_id})
        return IntakeResult(
            "accepted", 202, webhook.event_type, webhook.webhook_id, correlation_id, message_id=message_id
        )


# ------------------------------------------------------------------------------------------ adapters
class SqsEventQueue:
    """`EventQueue` on an SQS FIFO queue (client created lazily, once)."""

    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        if not queue_url:
            raise ValueError("WEBHOOK_QUEUE_URL is not set")
        self._queue_url = queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        return self._client

    def send(self, message: QueuedWebhook) -> str:
        response = self.client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=message.body,
            MessageGroupId=message.group_id,
            MessageDeduplicationId=message.deduplication_id,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in message.attributes.items()
            },
        )
        return response["MessageId"]


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
