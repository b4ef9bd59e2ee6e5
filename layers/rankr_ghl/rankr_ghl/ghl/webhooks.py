"""Pydantic models of GHL webhook event payloads (signature checks live in signatures.py).

Field names follow ``docs/webhook events/*.md``. Two envelope shapes exist in GHL's docs: flat
(event fields at the top level, as the event pages show) and ``{type, timestamp, webhookId,
data: {...}}`` (the integration guide's curl example). ``parse_event`` accepts both.

Doc quirks: the AppointmentUpdate/AppointmentDelete examples carry ``"type": "AppointmentCreate"``
(parsing keys on ``type``, so they still land in AppointmentEvent); task events have no
``completed`` field (TaskComplete implies it) and there is no TaskUpdate event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from rankr_ghl.ghl.models import CustomFieldValue, DndSettings, GHLDateTime, GHLModel

CONTACT_EVENTS = frozenset(
    {"ContactCreate", "ContactUpdate", "ContactDelete", "ContactTagUpdate", "ContactDndUpdate"}
)
TASK_EVENTS = frozenset({"TaskCreate", "TaskComplete", "TaskDelete"})
NOTE_EVENTS = frozenset({"NoteCreate", "NoteUpdate", "NoteDelete"})
APPOINTMENT_EVENTS = frozenset({"AppointmentCreate", "AppointmentUpdate", "AppointmentDelete"})
INSTALL_EVENTS = frozenset({"INSTALL"})
UNINSTALL_EVENTS = frozenset({"UNINSTALL"})


class WebhookEvent(GHLModel):
    """Fields every delivery may carry. ``webhook_id`` is GHL's idempotency key."""

    type: str
    location_id: str | None = None
    timestamp: GHLDateTime | None = None
    webhook_id: str | None = None


class ContactEvent(WebhookEvent):
    """ContactCreate / ContactUpdate / ContactDelete / ContactTagUpdate (full tag list) / ContactDndUpdate."""

    id: str
    address1: str | None = None
    city: str | None = None
    state: str | None = None
    company_name: str | None = None
    country: str | None = None
    source: str | None = None
    date_added: GHLDateTime | None = None
    date_of_birth: str | None = None
    dnd: bool | None = None
    dnd_settings: DndSettings | None = None
    email: str | None = Field(None, repr=False)
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = Field(None, repr=False)
    postal_code: str | None = None
    tags: list[str] | None = None
    website: str | None = None
    attachments: list[Any] | None = None
    assigned_to: str | None = None
    custom_fields: list[CustomFieldValue] | None = None


class TaskEvent(WebhookEvent):
    """TaskCreate / TaskComplete / TaskDelete."""

    id: str
    assigned_to: str | None = None
    body: str | None = None
    contact_id: str | None = None
    title: str | None = None
    date_added: GHLDateTime | None = None
    due_date: GHLDateTime | None = None


class NoteEvent(WebhookEvent):
    """NoteCreate / NoteUpdate / NoteDelete (thinner than REST notes: no title/userId)."""

    id: str
    body: str | None = None
    contact_id: str | None = None
    date_added: GHLDateTime | None = None


class WebhookAppointment(GHLModel):
    id: str
    address: str | None = None
    title: str | None = None
    calendar_id: str | None = None
    contact_id: str | None = None
    group_id: str | None = None
    appointment_status: str | None = None
    assigned_user_id: str | None = None
    users: list[str] | None = None
    notes: str | None = None
    source: str | None = None
    start_time: GHLDateTime | None = None
    end_time: GHLDateTime | None = None
    date_added: GHLDateTime | None = None
    date_updated: GHLDateTime | None = None


class AppointmentEvent(WebhookEvent):
    """AppointmentCreate / AppointmentUpdate / AppointmentDelete."""

    appointment: WebhookAppointment


class InstallTrial(GHLModel):
    on_trial: bool | None = None
    trial_duration: float | None = None
    trial_start_date: GHLDateTime | None = None


class WhitelabelDetails(GHLModel):
    domain: str | None = None
    logo_url: str | None = None


class InstallEvent(WebhookEvent):
    """INSTALL. ``location_id`` is absent for an agency-level (company) install."""

    app_id: str
    company_id: str | None = None
    user_id: str | None = None
    plan_id: str | None = None
    version_id: str | None = None
    install_type: str | None = None
    trial: InstallTrial | None = None
    is_whitelabel_company: bool | None = None
    whitelabel_details: WhitelabelDetails | None = None
    company_name: str | None = None


class UninstallEvent(WebhookEvent):
    """UNINSTALL: ``location_id`` (location uninstall) or ``company_id`` (agency uninstall)."""

    app_id: str
    company_id: str | None = None


class OtherEvent(WebhookEvent):
    """An event type this connector does not model (kept whole in the extra fields)."""


_BY_TYPE: dict[str, type[WebhookEvent]] = {
    **dict.fromkeys(CONTACT_EVENTS, ContactEvent),
    **dict.fromkeys(TASK_EVENTS, TaskEvent),
    **dict.fromkeys(NOTE_EVENTS, NoteEvent),
    **dict.fromkeys(APPOINTMENT_EVENTS, AppointmentEvent),
    **dict.fromkeys(INSTALL_EVENTS, InstallEvent),
    **dict.fromkeys(UNINSTALL_EVENTS, UninstallEvent),
}

_ENVELOPE_KEYS = ("type", "timestamp", "webhookId", "locationId")


def flatten_envelope(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``{type, timestamp, webhookId, data: {...}}`` -> flat; a flat payload is returned as is."""
    data = payload.get("data")
    if (
        isinstance(data, Mapping)
        and "type" in payload
        and "id" not in payload
        and "appointment" not in payload
    ):
        flat = dict(data)
        for key in _ENVELOPE_KEYS:
            if key in payload and key not in flat:
                flat[key] = payload[key]
        flat["type"] = payload["type"]
        return flat
    return dict(payload)


def parse_event(payload: Mapping[str, Any]) -> WebhookEvent:
    """Validate a webhook body into its event model. Raises pydantic.ValidationError when a known
    event lacks its required fields, ValueError when there is no ``type`` at all."""
    flat = flatten_envelope(payload)
    event_type = flat.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise ValueError("webhook payload has no 'type'")
    return _BY_TYPE.get(event_type, OtherEvent).model_validate(flat)
