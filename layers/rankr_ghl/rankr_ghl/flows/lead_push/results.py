"""What lead push answers: one result per lead, failures with a code and whether a retry can help."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rankr_ghl.observability import redact_text

if TYPE_CHECKING:
    from rankr_ghl.flows.lead_push.request import InvocationType


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    LINKED_EXISTING = "linked_existing"
    # The payload is not the lead as Rankr holds it now (a late or replayed async push): the contact's
    # newer fields are kept, and only what the lead's first push still owes (tags, note, task) is written.
    SUPERSEDED = "superseded"
    FAILED = "failed"


class ErrorCode(StrEnum):
    INVALID_LEAD = "invalid_lead"
    UNKNOWN_ACCOUNT = "unknown_account"
    LOCATION_NOT_CONNECTED = "location_not_connected"
    CONNECTION_UNAVAILABLE = "connection_unavailable"
    GHL_REJECTED = "ghl_rejected"
    GHL_UNAVAILABLE = "ghl_unavailable"
    GHL_RATE_LIMITED = "ghl_rate_limited"
    GHL_UNAUTHORIZED = "ghl_unauthorized"
    CONTACT_DELETED_IN_GHL = "contact_deleted_in_ghl"
    CONTACT_LINKED_ELSEWHERE = "contact_linked_elsewhere"
    RANKR_UNAVAILABLE = "rankr_unavailable"
    IN_PROGRESS = "in_progress"
    NOT_PROCESSED = "not_processed"
    INTERNAL = "internal_error"


class LeadPushFailure(Exception):
    """A lead could not be pushed. Raised inside the idempotent section so nothing is cached."""

    def __init__(self, code: ErrorCode, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = redact_text(message)
        self.retryable = retryable

    def as_error(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message, "retryable": self.retryable}


def failed_result(lead_id: str | None, failure: LeadPushFailure) -> dict[str, Any]:
    return {"leadId": lead_id, "outcome": Outcome.FAILED.value, "error": failure.as_error()}


def success_result(lead_id: str, contact_id: str, outcome: Outcome) -> dict[str, Any]:
    return {"leadId": lead_id, "ghlContactId": contact_id, "outcome": outcome.value}


@dataclass
class BatchResult:
    results: list[dict[str, Any]]
    batch: bool
    invocation_type: InvocationType
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def retryable_failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["outcome"] == Outcome.FAILED and r["error"]["retryable"]]
