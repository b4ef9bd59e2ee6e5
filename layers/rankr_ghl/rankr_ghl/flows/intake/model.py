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
# GHL retries a failed delivery up to 12 times with exponential backoff and jitter, resending the same
# signed body (FACTS.md §5.3; base and cap undocumented). A 10 s base doubling twelve times spans about
# 11 h, a 30 s base about 34 h: 48 h covers both with margin (docs/webhooks.md "Retry horizon").
DEFAULT_RETRY_HORIZON_S: Final = 48 * 3600
# How far ahead of our clock a timestamp may be (GHL's clock and ours disagree a little).
DEFAULT_CLOCK_SKEW_S: Final = 300
# The dedupe marker must outlive every delivery the intake accepts, so a replay inside the horizon is
# always answered "duplicate".
DEFAULT_DEDUPE_TTL_S: Final = DEFAULT_RETRY_HORIZON_S + DEFAULT_CLOCK_SKEW_S
# A claim first holds only this long; the successful enqueue extends it to the dedupe TTL. An intake
# that dies in between leaves a claim that lapses on its own, so GHL's next retry gets through.
DEFAULT_CLAIM_LEASE_S: Final = 60
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
METRIC_CLAIM_EXTEND_FAILED: Final = "WebhooksClaimExtendFailed"
METRIC_SIGNATURE_FORM: Final = "WebhookSignatureForm"  # dimension: which body form verified


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
class DeliveryClaims(Protocol):
    """The webhookId dedupe with a lease: `claim_once` holds a key for `ttl_s`; `extend` makes a held
    claim last `ttl_s` from now; `release` forgets it."""

    def claim_once(self, key: str, ttl_s: int) -> bool: ...

    def extend(self, key: str, ttl_s: int) -> None: ...

    def release(self, key: str) -> None: ...


class EventQueue(Protocol):
    def send(self, message: QueuedWebhook) -> str:
        """Queue the message; return the queue's message id. Raises on failure."""


# ---------------------------------------------------------------------------------------------- models
@dataclass(frozen=True, slots=True)
class IntakeConfig:
    app_id: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    retry_horizon_s: int = DEFAULT_RETRY_HORIZON_S
    clock_skew_s: int = DEFAULT_CLOCK_SKEW_S
    dedupe_ttl_s: int = DEFAULT_DEDUPE_TTL_S
    claim_lease_s: int = DEFAULT_CLAIM_LEASE_S

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "retry_horizon_s", "dedupe_ttl_s", "claim_lease_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.clock_skew_s < 0:
            raise ValueError("clock_skew_s must not be negative")
        if self.dedupe_ttl_s < self.retry_horizon_s + self.clock_skew_s:
            # A replay accepted after its marker expired would be queued twice.
            raise ValueError("dedupe_ttl_s must cover retry_horizon_s + clock_skew_s")


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
