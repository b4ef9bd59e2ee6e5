"""Calendar appointments of a contact."""

from __future__ import annotations

from typing import Any

from ..util import (
    new_id,
    now_ms,
    parse_time_ms,
)
from .records import (
    LocationState,
    Record,
)
from .views import ViewStore


class AppointmentStore(ViewStore):
    def create_appointment(
        self, contact_id: str, fields: dict[str, Any], *, emit: bool = True, when: int | None = None
    ) -> Record:
        with self.lock:
            loc, _ = self._contact(contact_id)
            stamp = when if when is not None else now_ms()
            start = parse_time_ms(fields["startTime"]) if fields.get("startTime") else stamp + 86_400_000
            end = parse_time_ms(fields["endTime"]) if fields.get("endTime") else start + 1_800_000
            user = fields.get("assignedUserId") or f"user-{loc.company_id}"[:20]
            a: Record = {
                "id": new_id(),
                "locationId": loc.id,
                "contactId": contact_id,
                "calendarId": fields.get("calendarId") or f"cal-{loc.id}"[:20],
                "groupId": fields.get("groupId") or f"grp-{loc.id}"[:20],
                "title": fields.get("title") or "Appointment",
                "appointmentStatus": fields.get("appointmentStatus") or "confirmed",
                "assignedUserId": user,
                "users": fields.get("users") or [user],
                "notes": fields.get("notes"),
                "address": fields.get("address"),
                "description": fields.get("description"),
                "source": fields.get("source") or "booking_widget",
                "startTime_ms": start,
                "endTime_ms": end,
                "dateAdded_ms": stamp,
                "dateUpdated_ms": stamp,
            }
            self._file_child(self.appt_loc, loc, loc.appointments, loc.appts_by_contact, a)
            if emit:
                self.sink("AppointmentCreate", self.appointment_event("AppointmentCreate", a))
            return a

    def _appointment(self, appt_id: str) -> tuple[LocationState, Record]:
        return self._child(self.appt_loc, lambda loc: loc.appointments, "Appointment", None, appt_id)

    def get_appointment(self, appt_id: str) -> Record:
        with self.lock:
            return self._appointment(appt_id)[1]

    def list_appointments(self, contact_id: str) -> list[Record]:
        with self.lock:
            loc, _ = self._contact(contact_id)
            return [loc.appointments[a] for a in loc.appts_by_contact.get(contact_id, {})]

    def update_appointment(self, appt_id: str, changes: dict[str, Any], *, emit: bool = True) -> Record:
        with self.lock:
            loc, old = self._appointment(appt_id)
            new = dict(old)
            for key, value in changes.items():
                if key in ("startTime", "endTime"):
                    new[f"{key}_ms"] = parse_time_ms(value)
                elif key in ("id", "locationId", "contactId"):
                    continue
                else:
                    new[key] = value
            new["dateUpdated_ms"] = max(now_ms(), old["dateUpdated_ms"])
            loc.appointments[appt_id] = new
            if emit:
                self.sink("AppointmentUpdate", self.appointment_event("AppointmentUpdate", new))
            return new

    def delete_appointment(self, appt_id: str, *, emit: bool = True) -> None:
        with self.lock:
            loc, a = self._appointment(appt_id)
            del loc.appointments[appt_id]
            loc.appts_by_contact.get(a["contactId"], {}).pop(appt_id, None)
            del self.appt_loc[appt_id]
            if emit:
                self.sink("AppointmentDelete", self.appointment_event("AppointmentDelete", a))
