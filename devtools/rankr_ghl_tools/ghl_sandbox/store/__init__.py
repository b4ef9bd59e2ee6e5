"""In-memory GHL state per location, with GHL's rules, composed from one module per resource."""

from __future__ import annotations

from typing import Any

from ..util import iso_ms, new_id, now_ms, phone_key
from .appointments import AppointmentStore
from .contacts import ContactStore
from .oauth import OAuthStore
from .records import (
    ADMIN_CONTACT_FIELDS,
    AccessToken,
    ApiError,
    forbidden,
    unprocessable,
)
from .tasks_notes import TaskNoteStore

__all__ = ["ADMIN_CONTACT_FIELDS", "AccessToken", "ApiError", "Store", "forbidden", "unprocessable"]


class Store(OAuthStore, ContactStore, TaskNoteStore, AppointmentStore):
    """The sandbox's whole GHL state: each resource module adds its operations; this adds bulk admin."""

    def seed(self, body: dict[str, Any]) -> list[str]:
        count = int(body.get("contacts", 0))
        if count < 0 or count > 1_000_000:
            raise ApiError(400, "contacts must be between 0 and 1000000")
        per_task = int(body.get("tasksPerContact", 0))
        per_note = int(body.get("notesPerContact", 0))
        per_appt = int(body.get("appointmentsPerContact", 0))
        with_email = bool(body.get("withEmail", True))
        with_phone = bool(body.get("withPhone", True))
        emit = bool(body.get("emitWebhook", False))
        with self.lock:
            loc = self.get_location(body.get("locationId") or "")
            base = now_ms() - count  # distinct, increasing, past timestamps
            ids: list[str] = []
            for i in range(count):
                loc.seed_serial += 1
                serial = loc.seed_serial
                tag = f"{loc.id[:12].lower()}.{serial}"
                fields: dict[str, Any] = {
                    "firstName": f"Seed{serial}",
                    "lastName": "Contact",
                    "source": "sandbox seed",
                }
                if with_email:
                    fields["email"] = f"seed.{tag}@example.com"
                if with_phone:
                    fields["phone"] = f"+1555{(serial * 7919) % 10_000_000:07d}"
                    while phone_key(fields["phone"]) in loc.by_phone:
                        fields["phone"] = f"+1556{int(new_id(7).encode().hex(), 16) % 10_000_000:07d}"
                c = self._new_contact(loc, fields, when=base + i)
                self._store_contact(loc, c, None)
                if emit:
                    self.sink("ContactCreate", self.contact_event("ContactCreate", c))
                ids.append(c["id"])
                for j in range(per_task):
                    self.create_task(
                        c["id"],
                        {
                            "title": f"Task {j + 1}",
                            "body": "Seeded task",
                            "dueDate": iso_ms(base + i + 7 * 86_400_000),
                            "completed": False,
                        },
                        emit=emit,
                        when=base + i,
                    )
                for j in range(per_note):
                    self.create_note(
                        c["id"],
                        {"body": f"Seeded note {j + 1}", "title": f"Note {j + 1}"},
                        emit=emit,
                        when=base + i,
                    )
                for j in range(per_appt):
                    self.create_appointment(
                        c["id"], {"title": f"Appointment {j + 1}"}, emit=emit, when=base + i
                    )
            return ids

    def dump(self, location_id: str) -> dict[str, Any]:
        with self.lock:
            loc = self.get_location(location_id)
            return {
                "location": self.location_view(loc),
                "contacts": [self.contact_view(c) for c in loc.contacts.values()],
                "tasks": [self.task_view(t, with_dates=True) for t in loc.tasks.values()],
                "notes": [
                    {**self.note_view(n), "dateUpdated": iso_ms(n["dateUpdated_ms"])}
                    for n in loc.notes.values()
                ],
                "appointments": [self.appointment_event_view(a) for a in loc.appointments.values()],
            }
