"""How records look on the wire: API views and webhook event payloads."""

from __future__ import annotations

from typing import Any

from ..util import (
    iso_ms,
    iso_offset,
    plain_datetime,
)
from .base import StoreBase
from .records import (
    CONTACT_EVENT_FIELDS,
    Record,
    drop_none,
)


class ViewStore(StoreBase):
    """API views and webhook payloads of every entity."""

    def contact_view(self, c: Record) -> dict[str, Any]:
        first, last = c.get("firstName"), c.get("lastName")
        full = " ".join(p for p in (first, last) if p) or c.get("name")
        view: dict[str, Any] = {
            "id": c["id"],
            "locationId": c["locationId"],
            "name": full,
            "firstName": first,
            "lastName": last,
            "firstNameLowerCase": first.lower() if first else None,
            "lastNameLowerCase": last.lower() if last else None,
            "fullNameLowerCase": full.lower() if full else None,
            "email": c.get("email"),
            "emailLowerCase": c["email"].lower() if c.get("email") else None,
            "phone": c.get("phone"),
            "companyName": c.get("companyName"),
            "gender": c.get("gender"),
            "timezone": c.get("timezone"),
            "dnd": bool(c.get("dnd", False)),
            "dndSettings": c.get("dndSettings"),
            "inboundDndSettings": c.get("inboundDndSettings"),
            "type": c.get("type", "lead"),
            "source": c.get("source"),
            "assignedTo": c.get("assignedTo"),
            "address1": c.get("address1"),
            "city": c.get("city"),
            "state": c.get("state"),
            "country": c.get("country"),
            "postalCode": c.get("postalCode"),
            "website": c.get("website"),
            "tags": list(c.get("tags", [])),
            "dateOfBirth": c.get("dateOfBirth"),
            "dateAdded": iso_ms(c["dateAdded_ms"]),
            "dateUpdated": iso_ms(c["dateUpdated_ms"]),
            "customFields": [{"id": k, "value": v} for k, v in c.get("customFields", {}).items()],
            "businessId": c.get("businessId"),
            "additionalEmails": [],
            "followers": [],
        }
        return drop_none(view)

    def created_contact_view(self, c: Record) -> dict[str, Any]:
        view = self.contact_view(c)
        view.update(
            {"deleted": False, "bounceEmail": False, "unsubscribeEmail": False, "offers": [], "products": []}
        )
        dob = c.get("dateOfBirth_ms")
        if dob is not None:
            view["birthMonth"] = int(iso_ms(dob)[5:7]) - 1
            view["birthDay"] = int(iso_ms(dob)[8:10])
        return view

    def contact_event(self, event_type: str, c: Record) -> dict[str, Any]:
        view = self.contact_view(c)
        payload: dict[str, Any] = {"type": event_type, "locationId": c["locationId"], "id": c["id"]}
        for key in CONTACT_EVENT_FIELDS:
            if key == "attachments":
                payload[key] = []
            elif key in view:
                payload[key] = view[key]
        if event_type == "ContactDndUpdate":
            payload["dndSettings"] = c.get("dndSettings") or {}
        return payload

    def task_view(self, t: Record, *, with_dates: bool = False) -> dict[str, Any]:
        view = {
            "id": t["id"],
            "title": t.get("title"),
            "body": t.get("body"),
            "assignedTo": t.get("assignedTo"),
            "dueDate": iso_ms(t["dueDate_ms"]),
            "completed": bool(t.get("completed")),
            "contactId": t["contactId"],
        }
        if with_dates:
            view.update(
                locationId=t["locationId"],
                dateAdded=iso_ms(t["dateAdded_ms"]),
                dateUpdated=iso_ms(t["dateUpdated_ms"]),
            )
        return drop_none(view)

    def task_event(self, event_type: str, t: Record) -> dict[str, Any]:
        return drop_none(
            {
                "type": event_type,
                "locationId": t["locationId"],
                "id": t["id"],
                "assignedTo": t.get("assignedTo"),
                "body": t.get("body"),
                "contactId": t["contactId"] if self._task_events_carry_contact(t) else None,
                "title": t.get("title"),
                "dateAdded": iso_ms(t["dateAdded_ms"]),
                "dueDate": iso_ms(t["dueDate_ms"]),
            }
        )

    def _task_events_carry_contact(self, t: Record) -> bool:
        return self.variants_for(t["locationId"]).task_event_contact_id == "present"

    def note_view(self, n: Record) -> dict[str, Any]:
        return drop_none(
            {
                "id": n["id"],
                "body": n.get("body"),
                "userId": n.get("userId"),
                "dateAdded": iso_ms(n["dateAdded_ms"]),
                "contactId": n["contactId"],
                "title": n.get("title"),
                "color": n.get("color"),
                "pinned": n.get("pinned"),
            }
        )

    def note_event(self, event_type: str, n: Record) -> dict[str, Any]:
        return drop_none(
            {
                "type": event_type,
                "locationId": n["locationId"],
                "id": n["id"],
                "body": n.get("body"),
                "contactId": n["contactId"],
                "dateAdded": iso_ms(n["dateAdded_ms"]),
            }
        )

    def appointment_contact_view(self, a: Record) -> dict[str, Any]:
        """GetEventSchema of GET /contacts/{id}/appointments: non-ISO times."""
        return drop_none(
            {
                "id": a["id"],
                "calendarId": a["calendarId"],
                "status": a["appointmentStatus"],
                "title": a["title"],
                "assignedUserId": a["assignedUserId"],
                "notes": a.get("notes"),
                "startTime": plain_datetime(a["startTime_ms"]),
                "endTime": plain_datetime(a["endTime_ms"]),
                "address": a.get("address"),
                "locationId": a["locationId"],
                "contactId": a["contactId"],
                "groupId": a["groupId"],
                "appointmentStatus": a["appointmentStatus"],
                "users": list(a["users"]),
                "dateAdded": plain_datetime(a["dateAdded_ms"]),
                "dateUpdated": plain_datetime(a["dateUpdated_ms"]),
                "assignedResources": list(a.get("assignedResources", [])),
            }
        )

    def appointment_event_view(self, a: Record) -> dict[str, Any]:
        """CalendarEventDTO of GET /calendars/events/appointments/{eventId}."""
        return drop_none(
            {
                "id": a["id"],
                "address": a.get("address"),
                "title": a["title"],
                "calendarId": a["calendarId"],
                "locationId": a["locationId"],
                "contactId": a["contactId"],
                "groupId": a["groupId"],
                "appointmentStatus": a["appointmentStatus"],
                "assignedUserId": a["assignedUserId"],
                "users": list(a["users"]),
                "notes": a.get("notes"),
                "description": a.get("description"),
                "isRecurring": False,
                "startTime": iso_offset(a["startTime_ms"]),
                "endTime": iso_offset(a["endTime_ms"]),
                "dateAdded": iso_offset(a["dateAdded_ms"]),
                "dateUpdated": iso_offset(a["dateUpdated_ms"]),
                "assignedResources": list(a.get("assignedResources", [])),
                "createdBy": {"userId": a["assignedUserId"], "source": a.get("source", "booking_widget")},
            }
        )

    def appointment_event(self, event_type: str, a: Record) -> dict[str, Any]:
        shown_type = event_type
        if self.config.appointment_type_doc_bug:
            shown_type = "AppointmentCreate"
        appointment = {
            k: v
            for k, v in self.appointment_event_view(a).items()
            if k
            in (
                "id",
                "address",
                "title",
                "calendarId",
                "contactId",
                "groupId",
                "appointmentStatus",
                "assignedUserId",
                "users",
                "notes",
                "startTime",
                "endTime",
                "dateAdded",
                "dateUpdated",
            )
        }
        appointment["source"] = a.get("source", "booking_widget")
        return {"type": shown_type, "locationId": a["locationId"], "appointment": appointment}
