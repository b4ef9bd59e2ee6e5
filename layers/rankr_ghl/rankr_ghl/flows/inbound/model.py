"""The webhook worker's vocabulary: results, the per-event context, metric names, event routing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from rankr_ghl.flows.queue_message import (
    APPOINTMENT_EVENTS,
    CONTACT_EVENTS,
    NOTE_EVENTS,
    TASK_EVENTS,
)
from rankr_ghl.ports import (
    RecordReadForbidden,
)
from rankr_ghl.sync.types import Entity

if TYPE_CHECKING:
    from rankr_ghl.connections.models import Connection


FLOW = "webhook"
DIRECTION = "ghl_to_rankr"

# Metric names (EMF).
METRIC_PROCESSED = "WebhookEventsProcessed"
METRIC_WRITTEN = "WebhookRankrWrites"
METRIC_ECHO = "WebhookEchoSkipped"
METRIC_SKIPPED = "WebhookEventsSkipped"  # dimension reason
METRIC_FAILED = "WebhookEventsFailed"
METRIC_CLAIM_LINKED = "WebhookLeadClaimLinked"
# Identities of one contact looked up in the lead claims (lead tags, e-mail, phone): one batch get.
MAX_CLAIM_IDENTITIES = 8

# The worker mirrors the webhook payload when GHL refuses to show the appointment.
AppointmentFetchForbidden = RecordReadForbidden


class AppLifecycle(Protocol):
    def handle_install(
        self, *, location_id: str | None, company_id: str | None, event_ms: int | None, event_id: str | None
    ) -> Any: ...

    def handle_uninstall(
        self, *, location_id: str | None, company_id: str | None, event_ms: int | None, event_id: str | None
    ) -> Any: ...


@dataclass(frozen=True)
class InboundResult:
    outcome: str  # written | echo | in_sync | deleted | skipped | install | uninstall
    reason: str = ""
    entity: Entity | None = None
    ghl_id: str | None = None
    rankr_id: str | None = None


@dataclass(frozen=True)
class EventContext:
    """One event's location, Rankr account, correlation id and type."""

    location_id: str
    account_id: str
    correlation_id: str | None
    event_type: str


def entity_of(event_type: str) -> Entity | None:
    if event_type in CONTACT_EVENTS:
        return Entity.CONTACT
    if event_type in TASK_EVENTS:
        return Entity.TASK
    if event_type in NOTE_EVENTS:
        return Entity.NOTE
    if event_type in APPOINTMENT_EVENTS:
        return Entity.APPOINTMENT
    return None


def inactive_reason(connection: Connection | None) -> str | None:
    if connection is None:
        return "not_connected"
    status = str(getattr(connection.status, "value", connection.status))
    return None if status == "active" else f"connection_{status}"
