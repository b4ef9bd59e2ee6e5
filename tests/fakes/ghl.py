"""`FakeGhlRecords`: `rankr_ghl.ports.GhlRecords` in memory, wire-format records in and out.

It follows the sandbox's (and GHL's) documented rules: upsert matches by e-mail (case-insensitively)
or phone (by digits), tags are stored lower-cased, an upsert's tag list replaces every tag, a create
is refused as a duplicate (400 with `meta.contactId`) where the location disallows duplicates.
`faults` is a list of (operation, kind) consumed in order: `500`, `422created` (the contact is created
and the call still fails), `timeout_created`. `lookup_lag` makes that many duplicate lookups miss.
The unverified behaviours are switches, as in the sandbox (docs/ghl-variants.md): `duplicate_error`
(meta | no_meta | 409 | 422), `duplicate_lookup_match` (normalised | exact), `tags_store` (lower |
preserve), `tags_match` (insensitive | sensitive); `tag_search_lag` makes that many tag searches miss
(the search index lags writes).
Tasks, notes and appointments live in `tasks`, `notes`, `appointments` (by id; tasks and notes carry
`contactId`); `fail_with` makes every read raise; `calendar_forbidden` refuses appointment reads.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rankr_ghl.ghl.errors import (
    GHLBadRequest,
    GHLDuplicateContact,
    GHLError,
    GHLNotFound,
    GHLServerError,
    GHLTimeout,
    GHLUnprocessable,
)
from rankr_ghl.ports import GhlSearchPage, GhlUpsert, Record, RecordReadForbidden
from rankr_ghl.sync.types import Entity

LOCATION = "loc1"
OTHER_LOCATION = "loc2"
_LOCAL_KEYS = ("notes", "tasks", "dateAdded")


def _match_key(fld: str, value: str | None) -> str:
    """GHL compares e-mails case-insensitively and phones by their digits."""
    if not value:
        return ""
    return "".join(ch for ch in value if ch.isdigit()) if fld == "phone" else value.lower()


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class FakeLocation:
    allow_duplicates: bool = False
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeGhlRecords:
    def __init__(self, locations: Sequence[str] = (LOCATION, OTHER_LOCATION)) -> None:
        self.locations: dict[str, FakeLocation] = {loc: FakeLocation() for loc in locations}
        self.calls: list[tuple[str, str]] = []
        self.faults: list[tuple[str, str]] = []
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.lookup_lag = 0
        self.tag_search_lag = 0
        self.duplicate_error = "meta"
        self.duplicate_lookup_match = "normalised"
        self.tags_store = "lower"
        self.tags_match = "insensitive"
        self.tasks: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, dict[str, Any]] = {}
        self.appointments: dict[str, dict[str, Any]] = {}
        self.fail_with: Exception | None = None
        self.calendar_forbidden = False
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # -- helpers for tests
    def contacts(self, location_id: str = LOCATION) -> list[dict[str, Any]]:
        return list(self.locations[location_id].contacts.values())

    def seed(self, location_id: str = LOCATION, **fields: Any) -> str:
        with self._lock:
            cid = f"c{next(self._ids)}"
            tags = [self._stored_tag(t) for t in fields.pop("tags", [])]
            self.locations[location_id].contacts[cid] = {
                "id": cid,
                "tags": tags,
                "dateAdded": datetime(2020, 1, 1, tzinfo=UTC),
                **fields,
            }
            return cid

    def put(self, location_id: str, record: Mapping[str, Any]) -> None:
        """Store a contact as given (wire format), replacing one with the same id."""
        with self._lock:
            self.locations.setdefault(location_id, FakeLocation()).contacts[record["id"]] = dict(record)

    def count(self, op: str) -> int:
        return sum(1 for o, _ in self.calls if o == op)

    def _fault(self, op: str) -> str | None:
        for i, (fault_op, kind) in enumerate(self.faults):
            if fault_op == op:
                del self.faults[i]
                return kind
        return None

    def _record(self, location_id: str, contact: Mapping[str, Any]) -> Record:
        record = {k: v for k, v in contact.items() if k not in _LOCAL_KEYS}
        record.update(locationId=location_id, tags=list(contact.get("tags", [])))
        added = contact.get("dateAdded")
        if added is not None:
            record["dateAdded"] = _iso(added) if isinstance(added, datetime) else added
        return record

    def _read(self, name: str, location_id: str) -> None:
        self.calls.append((name, location_id))
        if self.fail_with is not None:
            raise self.fail_with

    def _match(
        self, loc: FakeLocation, email: str | None, phone: str | None, *, exact: bool = False
    ) -> tuple[str, str] | None:
        for fld, value in (("email", email), ("phone", phone)):
            if not value:
                continue
            for c in loc.contacts.values():
                if exact and c.get(fld) == value:
                    return c["id"], fld
                if not exact and _match_key(fld, c.get(fld)) == _match_key(fld, value):
                    return c["id"], fld
        return None

    def _stored_tag(self, tag: str) -> str:
        return tag.strip().lower() if self.tags_store == "lower" else tag.strip()

    def _same_tag(self, wanted: str, stored: str) -> bool:
        if self.tags_match == "sensitive":
            return wanted == stored
        return wanted.lower() == stored.lower()

    def _duplicate(self, contact_id: str, matching_field: str) -> GHLError:
        message = "This location does not allow duplicated contacts."
        if self.duplicate_error == "meta":
            return GHLDuplicateContact(message, contact_id=contact_id, matching_field=matching_field)
        if self.duplicate_error == "no_meta":
            return GHLBadRequest(message, status=400)
        if self.duplicate_error == "409":
            return GHLError("Conflict", status=409)
        return GHLUnprocessable(f"['{message}']", status=422)

    def _new_contact(self, loc: FakeLocation, body: Mapping[str, Any]) -> dict[str, Any]:
        cid = f"c{next(self._ids)}"
        loc.contacts[cid] = {
            "id": cid,
            "tags": [self._stored_tag(t) for t in body.get("tags", [])],
            "dateAdded": datetime.now(UTC),
            **{k: v for k, v in body.items() if k != "tags"},
        }
        return loc.contacts[cid]

    def _contact(self, location_id: str, contact_id: str) -> dict[str, Any]:
        contact = self.locations[location_id].contacts.get(contact_id)
        if contact is None:
            raise GHLNotFound("Contact not found", status=404)
        return contact

    # -- reads
    def get_contact(self, location_id: str, contact_id: str) -> Record | None:
        with self._lock:
            self._read("get_contact", location_id)
            contact = self.locations.setdefault(location_id, FakeLocation()).contacts.get(contact_id)
            if contact is None:
                return None
            record = self._record(location_id, contact)
            record.setdefault("dateUpdated", _iso(datetime.now(UTC)))
            return record

    def get_task(self, location_id: str, contact_id: str, task_id: str) -> Record | None:
        self._read("get_task", location_id)
        record = self.tasks.get(task_id)
        return dict(record) if record and record["contactId"] == contact_id else None

    def get_note(self, location_id: str, contact_id: str, note_id: str) -> Record | None:
        self._read("get_note", location_id)
        record = self.notes.get(note_id)
        return dict(record) if record and record["contactId"] == contact_id else None

    def get_appointment(self, location_id: str, appointment_id: str) -> Record | None:
        self._read("get_appointment", location_id)
        if self.calendar_forbidden:
            raise RecordReadForbidden("403")
        record = self.appointments.get(appointment_id)
        return dict(record) if record else None

    def get(self, location_id: str, entity: Entity, record_id: str, parent_id: str | None) -> Record | None:
        if entity is Entity.CONTACT:
            return self.get_contact(location_id, record_id)
        if entity is Entity.TASK:
            return self.get_task(location_id, parent_id or "", record_id)
        if entity is Entity.NOTE:
            return self.get_note(location_id, parent_id or "", record_id)
        return self.get_appointment(location_id, record_id)

    # -- searches and lists
    def search_contacts(
        self,
        location_id: str,
        *,
        page_limit: int,
        sort: Sequence[Mapping[str, Any]],
        filters: Sequence[Mapping[str, Any]] | None = None,
        page: int | None = None,
        search_after: Sequence[Any] | None = None,
    ) -> GhlSearchPage:
        with self._lock:
            records = [self._record(location_id, c) for c in self.contacts(location_id)][:page_limit]
            return GhlSearchPage(records, None)

    def find_contact_by_tag(self, location_id: str, tag: str) -> Record | None:
        with self._lock:
            self.calls.append(("find_by_tag", location_id))
            if self.tag_search_lag:
                self.tag_search_lag -= 1
                return None
            for c in self.locations[location_id].contacts.values():
                if any(self._same_tag(tag, have) for have in c["tags"]):
                    return self._record(location_id, c)
            return None

    def find_duplicate_contact(
        self, location_id: str, *, email: str | None, phone: str | None
    ) -> Record | None:
        with self._lock:
            self.calls.append(("find_duplicate", location_id))
            self.bodies.append(("find_duplicate", {"email": email, "phone": phone}))
            if self.lookup_lag:  # GHL: "updates may take a few seconds to appear in search results"
                self.lookup_lag -= 1
                return None
            loc = self.locations[location_id]
            match = self._match(loc, email, phone, exact=self.duplicate_lookup_match == "exact")
            return self._record(location_id, loc.contacts[match[0]]) if match else None

    def search_tasks(self, location_id: str, *, limit: int, skip: int) -> list[Record]:
        return [dict(task) for task in list(self.tasks.values())[skip : skip + limit]]

    def find_task_contact(self, location_id: str, task_id: str) -> str | None:
        self._read("find_task_contact", location_id)
        record = self.tasks.get(task_id)
        return str(record["contactId"]) if record else None

    def list_notes(self, location_id: str, contact_id: str) -> list[Record]:
        return [dict(note) for note in self.notes.values() if note["contactId"] == contact_id]

    def list_tasks(self, location_id: str, contact_id: str) -> list[Record]:
        return [dict(task) for task in self.tasks.values() if task["contactId"] == contact_id]

    # -- writes
    def upsert_contact_reporting_new(self, location_id: str, body: Mapping[str, Any]) -> GhlUpsert:
        with self._lock:
            self.calls.append(("upsert", location_id))
            self.bodies.append(("upsert", dict(body)))
            fault = self._fault("upsert")
            if fault == "500":
                raise GHLServerError("boom", status=500, may_have_been_applied=True)
            loc = self.locations[location_id]
            match = self._match(loc, body.get("email"), body.get("phone"))
            if match is None:
                contact = self._new_contact(loc, body)
                if fault == "422created":
                    raise GHLUnprocessable(
                        "property x should not exist", status=422, may_have_been_applied=True
                    )
                if fault == "timeout_created":
                    raise GHLTimeout("timed out", may_have_been_applied=True)
                return GhlUpsert(self._record(location_id, contact), True)
            contact = loc.contacts[match[0]]
            if "tags" in body:  # GHL: an upsert's tag list replaces every tag
                contact["tags"] = [self._stored_tag(t) for t in body["tags"]]
            contact.update({k: v for k, v in body.items() if k != "tags"})
            return GhlUpsert(self._record(location_id, contact), False)

    def upsert_contact(self, location_id: str, body: Mapping[str, Any]) -> Record:
        return self.upsert_contact_reporting_new(location_id, body).record

    def create_contact(self, location_id: str, body: Mapping[str, Any]) -> Record:
        with self._lock:
            self.calls.append(("create", location_id))
            self.bodies.append(("create", dict(body)))
            fault = self._fault("create")
            if fault == "500":
                raise GHLServerError("boom", status=500, may_have_been_applied=True)
            loc = self.locations[location_id]
            match = self._match(loc, body.get("email"), body.get("phone"))
            if match is not None and not loc.allow_duplicates:
                raise self._duplicate(*match)
            contact = self._new_contact(loc, body)
            if fault == "422created":
                raise GHLUnprocessable("Unprocessable Entity", status=422, may_have_been_applied=True)
            if fault == "timeout_created":
                raise GHLTimeout("timed out", may_have_been_applied=True)
            return self._record(location_id, contact)

    def update_contact(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record | None:
        with self._lock:
            self.calls.append(("update", location_id))
            self.bodies.append(("update", dict(body)))
            if "tags" in body or "locationId" in body:
                raise GHLUnprocessable("property tags should not exist", status=422)
            contact = self._contact(location_id, contact_id)
            contact.update(body)
            return self._record(location_id, contact)

    def delete_contact(self, location_id: str, contact_id: str) -> None:
        with self._lock:
            self.locations.setdefault(location_id, FakeLocation()).contacts.pop(contact_id, None)

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        with self._lock:
            self.calls.append(("add_tags", location_id))
            fault = self._fault("add_tags")
            if fault == "500":
                raise GHLServerError("boom", status=500, may_have_been_applied=True)
            contact = self._contact(location_id, contact_id)
            for tag in tags:
                if not any(self._same_tag(tag, have) for have in contact["tags"]):
                    contact["tags"].append(self._stored_tag(tag))
            return list(contact["tags"])

    def remove_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> None:
        with self._lock:
            contact = self._contact(location_id, contact_id)
            contact["tags"] = [t for t in contact["tags"] if not any(self._same_tag(x, t) for x in tags)]

    def create_task(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record:
        with self._lock:
            self.calls.append(("create_task", location_id))
            if self._fault("create_task") == "500":
                raise GHLServerError("boom", status=500, may_have_been_applied=True)
            tasks = self._contact(location_id, contact_id).setdefault("tasks", [])
            tasks.append((body["title"], body.get("dueDate")))
            record = {**body, "id": f"t-{contact_id}-{len(tasks)}", "contactId": contact_id}
            self.tasks[record["id"]] = record
            return dict(record)

    def update_task(self, location_id: str, contact_id: str, task_id: str, body: Mapping[str, Any]) -> None:
        with self._lock:
            self.calls.append(("update_task", location_id))
            self.tasks[task_id].update(body)

    def create_note(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record:
        with self._lock:
            self.calls.append(("create_note", location_id))
            if self._fault("create_note") == "500":
                raise GHLServerError("boom", status=500, may_have_been_applied=True)
            notes = self._contact(location_id, contact_id).setdefault("notes", [])
            notes.append(body["body"])
            record = {**body, "id": f"n-{contact_id}-{len(notes)}", "contactId": contact_id}
            self.notes[record["id"]] = record
            return dict(record)

    def update_note(self, location_id: str, contact_id: str, note_id: str, body: Mapping[str, Any]) -> None:
        with self._lock:
            self.calls.append(("update_note", location_id))
            self.notes[note_id].update(body)
