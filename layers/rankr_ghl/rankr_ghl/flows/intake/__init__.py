"""Webhook intake: authenticate, validate, dedupe and queue one GHL webhook delivery (service.py has the
rules; envelope.py the pure checks; model.py the models and limits; sqs_queue.py the queue adapter)."""

from __future__ import annotations

from rankr_ghl.flows.intake.envelope import (
    build_message,
    check_entity,
    decode_body,
    header_value,
    normalise_envelope,
    parse_timestamp,
    problem_document,
    sqs_deduplication_id,
)
from rankr_ghl.flows.intake.model import (
    DEFAULT_DEDUPE_TTL_S,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_TIMESTAMP_WINDOW_S,
    MAX_TYPE_LEN,
    MAX_WEBHOOK_ID_LEN,
    METRIC_ACCEPTED,
    METRIC_DEDUPE_FAILED,
    METRIC_DUPLICATE,
    METRIC_ENQUEUE_FAILED,
    METRIC_RECEIVED,
    METRIC_REJECTED,
    METRIC_UNKNOWN_TYPE,
    EnqueueFailed,
    EventQueue,
    IntakeConfig,
    IntakeResult,
    Outcome,
    QueuedWebhook,
    RawWebhookRequest,
    ValidatedWebhook,
    WebhookRejected,
)
from rankr_ghl.flows.intake.service import WebhookIntake
from rankr_ghl.flows.intake.sqs_queue import SqsEventQueue

__all__ = [
    "DEFAULT_DEDUPE_TTL_S",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TIMESTAMP_WINDOW_S",
    "MAX_TYPE_LEN",
    "MAX_WEBHOOK_ID_LEN",
    "METRIC_ACCEPTED",
    "METRIC_DEDUPE_FAILED",
    "METRIC_DUPLICATE",
    "METRIC_ENQUEUE_FAILED",
    "METRIC_RECEIVED",
    "METRIC_REJECTED",
    "METRIC_UNKNOWN_TYPE",
    "EnqueueFailed",
    "EventQueue",
    "IntakeConfig",
    "IntakeResult",
    "Outcome",
    "QueuedWebhook",
    "RawWebhookRequest",
    "SqsEventQueue",
    "ValidatedWebhook",
    "WebhookIntake",
    "WebhookRejected",
    "build_message",
    "check_entity",
    "decode_body",
    "header_value",
    "normalise_envelope",
    "parse_timestamp",
    "problem_document",
    "sqs_deduplication_id",
]
