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

from typing import TYPE_CHECKING

from rankr_ghl.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from rankr_ghl.ghl.appointment_models import (
        Appointment,
        AppointmentsResponse,
        CalendarEventResponse,
        CreatedOrUpdatedBy,
    )
    from rankr_ghl.ghl.contact_models import (
        AttributionSource,
        Contact,
        ContactResponse,
        CustomFieldValue,
        DndSetting,
        DndSettings,
    )
    from rankr_ghl.ghl.contact_search_models import (
        ContactSearchPage,
        ContactSearchResponse,
        ContactsListResponse,
        ContactsMeta,
        DuplicateContactResponse,
    )
    from rankr_ghl.ghl.contact_write_models import (
        ContactCreate,
        ContactUpdate,
        ContactUpsert,
        CustomFieldInput,
        InboundDndSetting,
        InboundDndSettings,
        SucceededResponse,
        TagsResponse,
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
        Task,
        TaskCreate,
        TaskResponse,
        TasksResponse,
        TaskUpdate,
    )

# Each model module loads on first access (PEP 562): importing pydantic and building its models is a
# large part of a cold start. A contact webhook or a lead push needs none of them: the records adapter
# reads and writes contacts as wire dicts (`contact_wire`), and the tasks, notes, appointments and
# OAuth answers load their models when a call first needs them.
_EXPORTS = {
    "Appointment": "rankr_ghl.ghl.appointment_models",
    "AppointmentsResponse": "rankr_ghl.ghl.appointment_models",
    "AttributionSource": "rankr_ghl.ghl.contact_models",
    "CalendarEventResponse": "rankr_ghl.ghl.appointment_models",
    "Contact": "rankr_ghl.ghl.contact_models",
    "ContactCreate": "rankr_ghl.ghl.contact_write_models",
    "ContactResponse": "rankr_ghl.ghl.contact_models",
    "ContactSearchPage": "rankr_ghl.ghl.contact_search_models",
    "ContactSearchResponse": "rankr_ghl.ghl.contact_search_models",
    "ContactUpdate": "rankr_ghl.ghl.contact_write_models",
    "ContactUpsert": "rankr_ghl.ghl.contact_write_models",
    "ContactsListResponse": "rankr_ghl.ghl.contact_search_models",
    "ContactsMeta": "rankr_ghl.ghl.contact_search_models",
    "CreatedOrUpdatedBy": "rankr_ghl.ghl.appointment_models",
    "CustomFieldInput": "rankr_ghl.ghl.contact_write_models",
    "CustomFieldValue": "rankr_ghl.ghl.contact_models",
    "DndSetting": "rankr_ghl.ghl.contact_models",
    "DndSettings": "rankr_ghl.ghl.contact_models",
    "DuplicateContactResponse": "rankr_ghl.ghl.contact_search_models",
    "GHLDateTime": "rankr_ghl.ghl.model_base",
    "GHLModel": "rankr_ghl.ghl.model_base",
    "GHLRequest": "rankr_ghl.ghl.model_base",
    "InboundDndSetting": "rankr_ghl.ghl.contact_write_models",
    "InboundDndSettings": "rankr_ghl.ghl.contact_write_models",
    "InstalledLocation": "rankr_ghl.ghl.oauth_models",
    "InstalledLocationsResponse": "rankr_ghl.ghl.oauth_models",
    "LocationTask": "rankr_ghl.ghl.task_note_models",
    "LocationTasksResponse": "rankr_ghl.ghl.task_note_models",
    "Note": "rankr_ghl.ghl.task_note_models",
    "NoteCreate": "rankr_ghl.ghl.task_note_models",
    "NoteResponse": "rankr_ghl.ghl.task_note_models",
    "NoteUpdate": "rankr_ghl.ghl.task_note_models",
    "NotesResponse": "rankr_ghl.ghl.task_note_models",
    "SucceededResponse": "rankr_ghl.ghl.contact_write_models",
    "TagsResponse": "rankr_ghl.ghl.contact_write_models",
    "Task": "rankr_ghl.ghl.task_note_models",
    "TaskCreate": "rankr_ghl.ghl.task_note_models",
    "TaskResponse": "rankr_ghl.ghl.task_note_models",
    "TaskUpdate": "rankr_ghl.ghl.task_note_models",
    "TasksResponse": "rankr_ghl.ghl.task_note_models",
    "TokenResponse": "rankr_ghl.ghl.oauth_models",
    "UpdateContactResponse": "rankr_ghl.ghl.contact_write_models",
    "UpsertContactResponse": "rankr_ghl.ghl.contact_write_models",
}
__getattr__ = lazy_exports(__name__, _EXPORTS)

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
