"""Typed, rate-limit-aware client of the GHL (LeadConnector) API v2.

The client is assembled from one module per responsibility:
- `transport`: pooling, auth, rate budget, retries (the retry rules flows rely on), safe logging;
- `responses`: typed errors from non-2xx answers, models or wire records from 2xx bodies;
- `client_base`: the per-location call every endpoint group uses;
- `contact_records_api`: contacts, search and tags as GHL's JSON, checked without pydantic
  (`contact_wire`), for the flows; `contacts_api`: the same calls with typed models;
- `tasks_notes_api`: tasks and notes;
- this module: appointments and the `GHLClient` facade.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rankr_ghl.ghl.client_base import SEARCH_MAX_PAGE_LIMIT, SEARCH_PAGE_WINDOW
from rankr_ghl.ghl.contacts_api import ContactsApi
from rankr_ghl.ghl.responses import Replay, is_scope_denial, map_error, observe_variant_once, parse_response
from rankr_ghl.ghl.tasks_notes_api import TasksNotesApi
from rankr_ghl.ghl.transport import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    MIN_CALL_BUDGET_S,
    VERSION_CALENDARS,
    VERSION_CONTACTS,
    HttpCore,
)

if TYPE_CHECKING:
    from rankr_ghl.ghl.appointment_models import Appointment

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "MIN_CALL_BUDGET_S",
    "SEARCH_MAX_PAGE_LIMIT",
    "SEARCH_PAGE_WINDOW",
    "VERSION_CALENDARS",
    "VERSION_CONTACTS",
    "GHLClient",
    "HttpCore",
    "Replay",
    "is_scope_denial",
    "map_error",
    "observe_variant_once",
    "parse_response",
]


class GHLClient(ContactsApi, TasksNotesApi):
    """Client of GHL's contacts, tasks, notes, tags and appointments endpoints.

    Create ONE instance per Lambda container (module scope, lazily) and reuse it across warm
    invocations: it owns an httpx connection pool (keep-alive, TLS sessions) and is thread-safe.
    Every resource method takes ``location_id`` first: the token and the rate budget are per
    location. The rate budget is shared by every client instance in the process (see ratelimit).
    """

    # ---- appointments ----------------------------------------------------------------------

    def list_contact_appointments(self, location_id: str, contact_id: str) -> list[Appointment]:
        """GET /contacts/{contactId}/appointments."""
        from rankr_ghl.ghl.appointment_models import AppointmentsResponse

        return self._call(
            AppointmentsResponse,
            "GET",
            "/contacts/{contactId}/appointments",
            location_id,
            path_params={"contactId": contact_id},
        ).events

    def get_appointment(self, location_id: str, event_id: str) -> Appointment:
        """GET /calendars/events/appointments/{eventId} (Version 2021-04-15)."""
        from rankr_ghl.ghl.appointment_models import CalendarEventResponse

        return self._call(
            CalendarEventResponse,
            "GET",
            "/calendars/events/appointments/{eventId}",
            location_id,
            path_params={"eventId": event_id},
            version=VERSION_CALENDARS,
        ).event
