"""What each side's records contain: the fields a mapping document may name, and their kinds."""

from __future__ import annotations

from dataclasses import dataclass

from rankr_ghl.sync.transforms import FieldKind
from rankr_ghl.sync.types import Entity, Side


@dataclass(frozen=True)
class SideField:
    kind: FieldKind
    on_create: bool = True  # may be sent in a create body
    on_update: bool = True  # may be sent in an update body


_S = SideField(FieldKind.STRING)
_RO = SideField(FieldKind.STRING, on_create=False, on_update=False)
_DT = SideField(FieldKind.DATETIME)
_DT_RO = SideField(FieldKind.DATETIME, on_create=False, on_update=False)

GHL_FIELDS: dict[Entity, dict[str, SideField]] = {
    Entity.CONTACT: {
        "firstName": _S,
        "lastName": _S,
        "name": _S,
        "email": _S,
        "phone": _S,
        # UpdateContactDto has no companyName: it can only be set when the contact is created.
        "companyName": SideField(FieldKind.STRING, on_update=False),
        "tags": SideField(FieldKind.LIST),
        "source": _S,
        "address1": _S,
        "city": _S,
        "state": _S,
        "country": _S,
        "postalCode": _S,
        "website": _S,
        "timezone": _S,
        "dateOfBirth": _S,
        "assignedTo": _S,
        "dnd": SideField(FieldKind.BOOL),
        "type": _RO,
        "dateAdded": _DT_RO,
        "dateUpdated": _DT_RO,
    },
    Entity.TASK: {
        "title": _S,
        "body": _S,
        "dueDate": _DT,
        "completed": SideField(FieldKind.BOOL),
        "assignedTo": _S,
    },
    Entity.NOTE: {"body": _S, "title": _S, "userId": _S, "dateAdded": _DT_RO},
    # The connector holds calendars/events.readonly only: appointments are never written to GHL.
    Entity.APPOINTMENT: {
        "title": _RO,
        "appointmentStatus": _RO,
        "startTime": _DT_RO,
        "endTime": _DT_RO,
        "calendarId": _RO,
        "assignedUserId": _RO,
        "address": _RO,
        "notes": _RO,
        "dateAdded": _DT_RO,
        "dateUpdated": _DT_RO,
    },
}

RANKR_FIELDS: dict[Entity, dict[str, SideField]] = {
    Entity.CONTACT: {
        "firstName": _S,
        "lastName": _S,
        "email": _S,
        "phone": _S,
        "company": _S,
        "source": _S,
        "tags": SideField(FieldKind.LIST),
        "createdAt": _DT_RO,
        "updatedAt": _DT_RO,
    },
    Entity.TASK: {
        "title": _S,
        "body": _S,
        "dueDate": _DT,
        "completed": SideField(FieldKind.BOOL),
        "assignee": _S,
        "createdAt": _DT_RO,
        "updatedAt": _DT_RO,
    },
    Entity.NOTE: {"title": _S, "body": _S, "createdAt": _DT_RO, "updatedAt": _DT_RO},
    Entity.APPOINTMENT: {
        "status": _S,
        "startTime": _DT,
        "endTime": _DT,
        "title": _S,
        "calendarId": _S,
        "createdAt": _DT_RO,
        "updatedAt": _DT_RO,
    },
}

# Record-level "last modified" attribute per side, used by the newer_wins policy. GHL tasks and
# notes carry none, so newer_wins falls back to the tie breaker for them.
TIMESTAMP_FIELDS: dict[Side, dict[Entity, str | None]] = {
    Side.GHL: {
        Entity.CONTACT: "dateUpdated",
        Entity.TASK: None,
        Entity.NOTE: None,
        Entity.APPOINTMENT: "dateUpdated",
    },
    Side.RANKR: dict.fromkeys(Entity, "updatedAt"),
}

GHL_CUSTOM_FIELDS_ATTR = "customFields"
RANKR_CUSTOM_FIELDS_ATTR = "customFields"
