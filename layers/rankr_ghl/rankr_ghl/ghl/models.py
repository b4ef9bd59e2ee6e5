"""Pydantic v2 models of the GHL API v2 payloads the connector uses.

Python attributes are snake_case; the wire names (aliases) are exactly those of GHL's OpenAPI
files (``apps/contacts.json``, ``oauth.json``, ``calendars.json``, ``locations.json``). Response
models keep unknown fields (``extra="allow"``) because GHL adds fields without notice. Request
models forbid unknown fields: GHL answers 422 "property X should not exist" to them anyway.

Quirks handled here:
- ``succeded`` (sic) is the success flag of PUT/DELETE responses (``succeeded`` is accepted too).
- custom fields are written as ``{id|key, field_value}`` and read as ``{id, value}``.
- appointment times may be ``"2021-07-16 11:00:00"`` (no ``T``, no offset); they parse into naive
  datetimes (location-local time, GHL gives no zone), ISO times with an offset into aware ones.
- token responses mix snake_case (``access_token``) and camelCase (``userType``); both spellings of
  every token field are accepted.
"""

from __future__ import annotations

from rankr_ghl.ghl.appointment_models import (
    Appointment,
    AppointmentsResponse,
    CalendarEventResponse,
    CreatedOrUpdatedBy,
)
from rankr_ghl.ghl.contact_models import (
    AttributionSource,
    Contact,
    ContactCreate,
    ContactResponse,
    ContactSearchPage,
    ContactSearchResponse,
    ContactsListResponse,
    ContactsMeta,
    ContactUpdate,
    ContactUpsert,
    CustomFieldInput,
    CustomFieldValue,
    DndSetting,
    DndSettings,
    DuplicateContactResponse,
    InboundDndSetting,
    InboundDndSettings,
    SucceededResponse,
    UpdateContactResponse,
    UpsertContactResponse,
)
from rankr_ghl.ghl.model_base import GHLDateTime, GHLModel, GHLRequest
from rankr_ghl.ghl.oauth_models import (
    InstalledLocation,
    InstalledLocationsResponse,
    TokenResponse,
)
from rankr_ghl.ghl.task_note_models import (
    LocationTask,
    LocationTasksResponse,
    Note,
    NoteCreate,
    NoteResponse,
    NotesResponse,
    NoteUpdate,
    TagsResponse,
    Task,
    TaskCreate,
    TaskResponse,
    TasksResponse,
    TaskUpdate,
)

__all__ = [
    "Appointment",
    "AppointmentsResponse",
    "AttributionSource",
    "CalendarEventResponse",
    "Contact",
    "ContactCreate",
    "ContactResponse",
    "ContactSearchPage",
    "ContactSearchResponse",
    "ContactUpdate",
    "ContactUpsert",
    "ContactsListResponse",
    "ContactsMeta",
    "CreatedOrUpdatedBy",
    "CustomFieldInput",
    "CustomFieldValue",
    "DndSetting",
    "DndSettings",
    "DuplicateContactResponse",
    "GHLDateTime",
    "GHLModel",
    "GHLRequest",
    "InboundDndSetting",
    "InboundDndSettings",
    "InstalledLocation",
    "InstalledLocationsResponse",
    "LocationTask",
    "LocationTasksResponse",
    "Note",
    "NoteCreate",
    "NoteResponse",
    "NoteUpdate",
    "NotesResponse",
    "SucceededResponse",
    "TagsResponse",
    "Task",
    "TaskCreate",
    "TaskResponse",
    "TaskUpdate",
    "TasksResponse",
    "TokenResponse",
    "UpdateContactResponse",
    "UpsertContactResponse",
]
