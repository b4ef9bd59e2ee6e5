"""Webhook intake: authenticate, validate, dedupe and queue one GHL webhook delivery.

Two stages, so the CPU part can be measured and tested without I/O:
- `WebhookIntake.validate(request)`: body decoding, size limit, signature over the exact raw bytes,
  JSON, envelope shape, appId, timestamp window. Pure; raises `WebhookRejected` (a 4xx).
- `WebhookIntake.handle(request)`: validate, then claim the dedupe key for a short lease (conditional
  write with TTL), send to the FIFO queue (group = location, dedup id = webhookId) and only then
  extend the claim to the dedupe TTL. A failed send releases the claim and raises `EnqueueFailed`
  (a 503) so GHL retries; an intake killed between claim and send leaves a lease that lapses on its
  own, so a claim never strands a delivery.

Decisions (see docs/queue-design.md):
- Unknown event types are acknowledged (202) and counted, not queued: rejecting would make GHL retry
  an event we will never handle, and GHL's circuit breaker pauses URLs with a low success rate.
- A missing `webhookId` dedupes on `body:<sha256 of the raw body>`: a retry of the same delivery
  carries the same bytes, while a different event never hashes alike.
- GHL retries resend the original signed body, so `timestamp` is the event time. A delivery is accepted
  for the whole retry horizon; only a timestamp beyond the clock skew in the future, or older than the
  dedupe TTL (the marker would be gone), is refused. Replays inside that span meet the `webhookId`
  marker. A missing `timestamp` is accepted (GHL's event docs omit it).
- Paused/uninstalled connections are checked by the worker (one GetItem per event, always current).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from rankr_ghl.flows.intake.envelope import (
    _reject_constant,
    _resource_id,
    build_message,
    check_entity,
    decode_body,
    header_value,
    normalise_envelope,
    parse_timestamp,
)
from rankr_ghl.flows.intake.model import (
    MAX_TYPE_LEN,
    MAX_WEBHOOK_ID_LEN,
    METRIC_ACCEPTED,
    METRIC_CLAIM_EXTEND_FAILED,
    METRIC_DEDUPE_FAILED,
    METRIC_DUPLICATE,
    METRIC_ENQUEUE_FAILED,
    METRIC_RECEIVED,
    METRIC_REJECTED,
    METRIC_SIGNATURE_FORM,
    METRIC_UNKNOWN_TYPE,
    DeliveryClaims,
    EnqueueFailed,
    EventQueue,
    IntakeConfig,
    IntakeResult,
    RawWebhookRequest,
    ValidatedWebhook,
    WebhookRejected,
)
from rankr_ghl.flows.queue_message import (
    APP_EVENTS,
    SUPPORTED_EVENT_TYPES,
)
from rankr_ghl.observability import logger
from rankr_ghl.ports import Counter, NullCounter

if TYPE_CHECKING:
    # Only the intake verifies (and so imports cryptography); the worker imports this module too.
    from rankr_ghl.ghl.signatures import SignatureVerifier


class WebhookIntake:
    def __init__(
        self,
        *,
        verifier: SignatureVerifier,
        dedupe: DeliveryClaims,
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
        self._forms_seen: set[str] = set()

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
        if verified.form not in self._forms_seen:
            # Once per container: enough for the first real traffic to settle which form GHL signs.
            self._forms_seen.add(verified.form)
            self._metrics.count(METRIC_SIGNATURE_FORM, verified.form)
            logger.info("webhook signature form observed", extra={"signature_form": verified.form})

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
            # Older than the marker lives, a replay could no longer be told from the original.
            if age > config.dedupe_ttl_s - config.clock_skew_s:
                raise WebhookRejected(400, "stale_timestamp", "timestamp is older than the retry horizon")
            if -age > config.clock_skew_s:
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
            check_entity(event_type, event)

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

        try:
            claimed = self._dedupe.claim_once(webhook.dedupe_key, self._config.claim_lease_s)
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

        try:
            self._dedupe.extend(webhook.dedupe_key, self._config.dedupe_ttl_s)
        except Exception:
            # The event is queued, so this is still a success for GHL. The lease lapses, and a retry
            # after that is queued again: SQS's 5-minute dedup drops an early one, and the worker
            # re-reads current state, so a late one is a harmless repeat.
            metrics.count(METRIC_CLAIM_EXTEND_FAILED)
            logger.exception("could not extend the dedupe claim after queueing", extra=log_ids)

        metrics.count(METRIC_ACCEPTED)
        logger.info("webhook accepted", extra={**log_ids, "message_id": message_id})
        return IntakeResult(
            "accepted", 202, webhook.event_type, webhook.webhook_id, correlation_id, message_id=message_id
        )
