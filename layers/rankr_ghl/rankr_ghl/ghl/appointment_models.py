"""GHL appointment (calendar event) payloads."""

from __future__ import annotations

from pydantic import Field

from rankr_ghl.ghl.model_base import GHLDateTime, GHLModel


class CreatedOrUpdatedBy(GHLModel):
    user_id: str | None = None
    source: str | None = None


class Appointment(GHLModel):
    """GetEventSchema (contact appointments) and CalendarEventDTO (calendars, Version 2021-04-15)."""

    id: str | None = None
    calendar_id: str | None = None
    location_id: str | None = None
    contact_id: str | None = None
    group_id: str | None = None
    status: str | None = None
    appointment_status: str | None = None
    title: str | None = None
    assigned_user_id: str | None = None
    users: list[str] | None = None
    notes: str | None = None
    description: str | None = None
    address: str | None = None
    source: str | None = None
    start_time: GHLDateTime | None = None
    end_time: GHLDateTime | None = None
    date_added: GHLDateTime | None = None
    date_updated: GHLDateTime | None = None
    assigned_resources: list[str] | None = None
    is_recurring: bool | None = None
    rrule: str | None = None
    master_event_id: str | None = None
    created_by: CreatedOrUpdatedBy | None = None


class AppointmentsResponse(GHLModel):
    """GetEventsSuccessfulResponseDto."""

    events: list[Appointment] = Field(default_factory=list)


class CalendarEventResponse(GHLModel):
    """GetCalendarEventSuccessfulResponseDTO."""

    event: Appointment
