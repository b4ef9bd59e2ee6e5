"""Webhook intake: limits, metric names, errors, the queue port and the request/result models."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

if TYPE_CHECKING:
    # Only the intake verifies (and so imports cryptography); the worker imports this module too.
    pass

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
