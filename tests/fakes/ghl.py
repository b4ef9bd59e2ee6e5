"""`FakeGhlRecords`: `rankr_ghl.ports.GhlRecords` in memory, wire-format records in and out; the one
GHL fake of the unit tests.

It follows the sandbox's (and GHL's) documented rules: upsert matches by e-mail (case-insensitively)
or phone (by digits), tags are stored lower-cased, an upsert's or a PUT's tag list replaces every tag,
a create is refused as a duplicate (400 with `meta.contactId`) where the location disallows
duplicates, a PUT refuses the fields `UpdateContactDto` lacks (422), every write stamps the contact's
`dateUpdated`, deleting a contact deletes its tasks and notes. Search sorts case-insensitively then by
id, pages with `page` or `searchAfter` and filters `dateUpdated` ranges and tags.

`calls` lists every call as (operation, location); `faults` is a list of (operation, kind) consumed in
order: `500`, `422created` (the contact is created and the call still fails), `timeout_created`.
`lookup_lag` makes that many duplicate lookups miss, `tag_search_lag` that many tag searches.
The unverified behaviours are switches, as in the sandbox (docs/ghl-variants.md): `duplicate_error`
(meta | no_meta | 409 | 422), `duplicate_lookup_match` (normalised | exact), `tags_store` (lower |
preserve), `tags_match` (insensitive | sensitive), `custom_field_null` (clears | ignored | 422), and
search's `search_order` (id | ignored | shuffled), `search_cursor` (per_contact | none), contacts not
yet in the index (`search_hidden`) or indexed in an older state (`search_stale`), and the task
search's loose shape (`task_body_key`, `task_contact_key`, `task_search_hidden`).
Tasks, notes and appointments live in `tasks`, `notes`, `appointments` (by id; tasks and notes carry
`contactId`); `fail_with` makes every single-record read raise; `calendar_forbidden` refuses
appointment reads. A contact keeps the titles of the tasks and the bodies of the notes created on it
under `tasks` and `notes`, which its reads leave out.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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

from fakes.clock import Clock, WallClock, iso
from fakes.ghl_search import contact_search_page, task_search_page

LOCATION = "loc1"
OTHER_LOCATION = "loc2"
SEEDED_AT = "2020-01-01T00:00:00.000Z"  # `seed`: contacts older than any the test creates
_LOCAL_KEYS = ("notes", "tasks")
NOT_UPDATABLE = ("companyName", "gender", "locationId")  # absent from UpdateContactDto
WRITES = frozenset(
    {
        "create",
        "upsert",
        "update",
        "delete",
        "add_tags",
        "remove_tags",
        "create_task",
        "update_task",
        "create_note",
        "update_note",
    }
)


def _match_key(fld: str, value: str | None) -> str:
    """GHL compares e-mails case-insensitively and phones by their digits."""
    if not value:
        return ""
    return "".join(ch for ch in value if ch.isdigit()) if fld == "phone" else value.lower()


@dataclass
class FakeLocation:
    allow_duplicates: bool = False
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeGhlRecords:
    def __init__(
        self, locations: Sequence[str] = (LOCATION, OTHER_LOCATION), clock: Clock | None = None
    ) -> None:
        self.clock: Clock = clock or WallClock()
        self.locations: dict[str, FakeLocation] = {loc: FakeLocation() for loc in locations}
        self.default_location = locations[0]
        self.calls: list[tuple[str, str]] = []
        self.faults: list[tuple[str, str]] = []
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.lookup_lag = 0
        self.tag_search_lag = 0
        self.duplicate_error = "meta"
        self.duplicate_lookup_match = "normalised"
        self.tags_store = "lower"
        self.tags_match = "insensitive"
        self.custom_field_null = "clears"
        self.search_order = "id"
        self.search_cursor = "per_contact"
        self.search_hidden: set[str] = set()
        self.search_stale: dict[str, Record] = {}  # an index entry older than the contact (lag)
        self.task_search_hidden: set[str] = set()
        self.task_body_key: str | None = "body"
        self.task_contact_key: str | None = "contactId"  # where the task search names the contact
        self.tasks: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, dict[str, Any]] = {}
        self.appointments: dict[str, dict[str, Any]] = {}
        self.fail_with: Exception | None = None
        self.calendar_forbidden = False
        self.rng = random.Random(7)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # -- helpers for tests
    def contacts(self, location_id: str | None = None) -> list[dict[str, Any]]:
        return list(self.contacts_by_id(location_id).values())

    def contacts_by_id(self, location_id: str | None = None) -> dict[str, dict[str, Any]]:
        """The location's stored contacts by id (the live dict)."""
        return self._location(location_id).contacts

    def count(self, op: str) -> int:
        return sum(1 for o, _ in self.calls if o == op)

    def ops(self) -> Counter[str]:
        return Counter(op for op, _ in self.calls)

    @property
    def reads(self) -> int:
        return sum(1 for op, _ in self.calls if op not in WRITES)

    @property
    def writes(self) -> int:
        return sum(1 for op, _ in self.calls if op in WRITES)

    def new_id(self, prefix: str = "c") -> str:
        return f"{prefix}{next(self._ids):05d}"

    def seed_contact(self, location_id: str | None = None, **fields: Any) -> Record:
        """A contact that exists before the test (no call recorded), added and updated now."""
        with self._lock:
            now = iso(self.clock.tick())
            loc = self._location(location_id)
            contact_id = fields.pop("id", None) or self.new_id()
            tags = [self._stored_tag(t) for t in fields.pop("tags", None) or []]
            contact = {"id": contact_id, "dateAdded": now, "dateUpdated": now, **fields, "tags": tags}
            loc.contacts[contact_id] = contact
            return contact

    def seed(self, location_id: str | None = None, **fields: Any) -> str:
        """`seed_contact`, added before any contact the test creates; the contact's id."""
        return str(self.seed_contact(location_id, **{"dateAdded": SEEDED_AT, **fields})["id"])

    def put(self, location_id: str, record: Mapping[str, Any]) -> None:
        """Store a contact as given (wire format), replacing one with the same id."""
        with self._lock:
            self.locations.setdefault(location_id, FakeLocation()).contacts[record["id"]] = dict(record)

    def edit_contact(self, contact_id: str, location_id: str | None = None, **changes: Any) -> None:
        """A change made in GHL by someone else (no call recorded)."""
        with self._lock:
            contact = self._contact(self._location_id(location_id), contact_id)
            contact.update(changes)
            contact["dateUpdated"] = iso(self.clock.tick())

    def seed_task(self, contact_id: str, **fields: Any) -> Record:
        task = {"id": self.new_id("t"), "contactId": contact_id, "dateAdded": iso(self.clock.tick())}
        task.update({"completed": False, **fields})
        self.tasks[task["id"]] = task
        return task

    def seed_note(self, contact_id: str, **fields: Any) -> Record:
        note = {"id": self.new_id("n"), "contactId": contact_id, "dateAdded": iso(self.clock.tick())}
        note.update(fields)
        self.notes[note["id"]] = note
        return note

    # -- internals
    def _location_id(self, location_id: str | None) -> str:
        return location_id or self.default_location

    def _location(self, location_id: str | None) -> FakeLocation:
        return self.locations.setdefault(self._location_id(location_id), FakeLocation())

    def _call(self, op: str, location_id: str) -> None:
        self.calls.append((op, location_id))

    def _fault(self, op: str) -> str | None:
        for i, (fault_op, kind) in enumerate(self.faults):
            if fault_op == op:
                del self.faults[i]
                return kind
        return None

    def _server_fault(self, op: str) -> str | None:
        fault = self._fault(op)
        if fault == "500":
            raise GHLServerError("boom", status=500, may_have_been_applied=True)
        return fault

    @staticmethod
    def _applied_fault(fault: str | None, message: str) -> None:
        """Faults that strike after GHL applied the write."""
        if fault == "422created":
            raise GHLUnprocessable(message, status=422, may_have_been_applied=True)
        if fault == "timeout_created":
            raise GHLTimeout("timed out", may_have_been_applied=True)

    def _record(self, location_id: str, contact: Mapping[str, Any]) -> Record:
        record = {k: v for k, v in contact.items() if k not in _LOCAL_KEYS}
        record.update(locationId=location_id, tags=list(contact.get("tags", [])))
        return record

    def _read(self, name: str, location_id: str) -> None:
        self._call(name, location_id)
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

    def _new_contact(self, location_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.seed_contact(location_id, **{k: v for k, v in body.items() if k != "locationId"})

    def _contact(self, location_id: str, contact_id: str) -> dict[str, Any]:
        contact = self._location(location_id).contacts.get(contact_id)
        if contact is None:
            raise GHLNotFound("Contact not found", status=404)
        return contact

    def _write(self, contact: dict[str, Any], changes: Mapping[str, Any]) -> None:
        """GHL stamps `dateUpdated` on every write (a test may still set it explicitly)."""
        contact["dateUpdated"] = iso(self.clock.tick())
        contact.update(changes)

    def _custom_fields(self, contact: Mapping[str, Any], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Custom-field writes under the `custom_field_null` variant: a null clears, is ignored or is
        refused (422); an empty string always clears."""
        stored = {item["id"]: item.get("value") for item in contact.get("customFields") or []}
        for item in items:
            value = item.get("field_value")
            if value is None and self.custom_field_null == "422":
                raise GHLUnprocessable("customFields: field_value must not be null", status=422)
            if value is None and self.custom_field_null == "ignored":
                continue
            stored[item["id"]] = value if value != "" else None
        return [{"id": key, "value": value} for key, value in stored.items() if value is not None]

    # -- reads
    def get_contact(self, location_id: str, contact_id: str) -> Record | None:
        with self._lock:
            self._read("get_contact", location_id)
            contact = self._location(location_id).contacts.get(contact_id)
            if contact is None:
                return None
            record = self._record(location_id, contact)
            record.setdefault("dateUpdated", iso(self.clock()))
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
            self._call("search", location_id)
            rows = [
                self._record(location_id, self.search_stale.get(c["id"], c))
                for c in self.contacts(location_id)
                if c["id"] not in self.search_hidden
            ]
            return contact_search_page(
                rows,
                sort_field=sort[0]["field"],
                filters=filters or [],
                page_limit=page_limit,
                page=page,
                search_after=search_after,
                order=self.search_order,
                cursor=self.search_cursor,
                rng=self.rng,
            )

    def find_contact_by_tag(self, location_id: str, tag: str) -> Record | None:
        with self._lock:
            self._call("find_by_tag", location_id)
            if self.tag_search_lag:
                self.tag_search_lag -= 1
                return None
            oldest_first = sorted(self.contacts(location_id), key=lambda c: str(c.get("dateAdded") or ""))
            for c in oldest_first:
                if any(self._same_tag(tag, have) for have in c["tags"]):
                    return self._record(location_id, c)
            return None

    def find_duplicate_contact(
        self, location_id: str, *, email: str | None, phone: str | None
    ) -> Record | None:
        with self._lock:
            self._call("find_duplicate", location_id)
            self.bodies.append(("find_duplicate", {"email": email, "phone": phone}))
            if self.lookup_lag:  # GHL: "updates may take a few seconds to appear in search results"
                self.lookup_lag -= 1
                return None
            loc = self._location(location_id)
            match = self._match(loc, email, phone, exact=self.duplicate_lookup_match == "exact")
            return self._record(location_id, loc.contacts[match[0]]) if match else None

    def search_tasks(self, location_id: str, *, limit: int, skip: int) -> list[Record]:
        self._call("search_tasks", location_id)
        indexed = [t for t in self.tasks.values() if t["id"] not in self.task_search_hidden]
        return task_search_page(
            indexed, limit=limit, skip=skip, body_key=self.task_body_key, contact_key=self.task_contact_key
        )

    def find_task_contact(self, location_id: str, task_id: str) -> str | None:
        self._read("find_task_contact", location_id)
        record = self.tasks.get(task_id)
        return str(record["contactId"]) if record else None

    def list_notes(self, location_id: str, contact_id: str) -> list[Record]:
        self._call("list_notes", location_id)
        return [dict(note) for note in self.notes.values() if note["contactId"] == contact_id]

    def list_tasks(self, location_id: str, contact_id: str) -> list[Record]:
        self._call("list_tasks", location_id)
        return [dict(task) for task in self.tasks.values() if task["contactId"] == contact_id]

    # -- writes
    def upsert_contact_reporting_new(self, location_id: str, body: Mapping[str, Any]) -> GhlUpsert:
        with self._lock:
            self._call("upsert", location_id)
            self.bodies.append(("upsert", dict(body)))
            fault = self._server_fault("upsert")
            loc = self._location(location_id)
            match = self._match(loc, body.get("email"), body.get("phone"))
            if match is None:
                contact = self._new_contact(location_id, body)
                self._applied_fault(fault, "property x should not exist")
                return GhlUpsert(self._record(location_id, contact), True)
            contact = loc.contacts[match[0]]
            changes = {k: v for k, v in body.items() if k != "locationId"}
            if "tags" in changes:  # GHL: an upsert's tag list replaces every tag
                changes["tags"] = [self._stored_tag(t) for t in changes["tags"]]
            self._write(contact, changes)
            return GhlUpsert(self._record(location_id, contact), False)

    def upsert_contact(self, location_id: str, body: Mapping[str, Any]) -> Record:
        return self.upsert_contact_reporting_new(location_id, body).record

    def create_contact(self, location_id: str, body: Mapping[str, Any]) -> Record:
        with self._lock:
            self._call("create", location_id)
            self.bodies.append(("create", dict(body)))
            fault = self._server_fault("create")
            loc = self._location(location_id)
            match = self._match(loc, body.get("email"), body.get("phone"))
            if match is not None and not loc.allow_duplicates:
                raise self._duplicate(*match)
            contact = self._new_contact(location_id, body)
            self._applied_fault(fault, "Unprocessable Entity")
            return self._record(location_id, contact)

    def update_contact(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record | None:
        with self._lock:
            self._call("update", location_id)
            self.bodies.append(("update", dict(body)))
            refused = [name for name in NOT_UPDATABLE if name in body]
            if refused:
                raise GHLUnprocessable(f"property {refused[0]} should not exist", status=422)
            contact = self._contact(location_id, contact_id)
            changes = dict(body)
            if "customFields" in changes:
                changes["customFields"] = self._custom_fields(contact, changes["customFields"])
            if "tags" in changes:  # GHL: a PUT's tag list replaces every tag
                changes["tags"] = [self._stored_tag(t) for t in changes["tags"]]
            self._write(contact, changes)
            return self._record(location_id, contact)

    def delete_contact(self, location_id: str, contact_id: str) -> None:
        with self._lock:
            self._call("delete", location_id)
            self._location(location_id).contacts.pop(contact_id, None)
            for children in (self.tasks, self.notes):  # GHL deletes the contact's tasks and notes
                for child_id in [k for k, child in children.items() if child["contactId"] == contact_id]:
                    del children[child_id]

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        with self._lock:
            self._call("add_tags", location_id)
            self._server_fault("add_tags")
            contact = self._contact(location_id, contact_id)
            added = [t for t in tags if not any(self._same_tag(t, have) for have in contact["tags"])]
            self._write(contact, {"tags": [*contact["tags"], *(self._stored_tag(t) for t in added)]})
            return list(contact["tags"])

    def remove_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> None:
        with self._lock:
            self._call("remove_tags", location_id)
            contact = self._contact(location_id, contact_id)
            kept = [t for t in contact["tags"] if not any(self._same_tag(x, t) for x in tags)]
            self._write(contact, {"tags": kept})

    def create_task(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record:
        with self._lock:
            self._call("create_task", location_id)
            self._server_fault("create_task")
            contact = self._contact(location_id, contact_id)
            contact.setdefault("tasks", []).append((body["title"], body.get("dueDate")))
            return dict(self.seed_task(contact_id, **body))

    def update_task(self, location_id: str, contact_id: str, task_id: str, body: Mapping[str, Any]) -> None:
        with self._lock:
            self._call("update_task", location_id)
            self.tasks[task_id].update(body)

    def create_note(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record:
        with self._lock:
            self._call("create_note", location_id)
            self._server_fault("create_note")
            contact = self._contact(location_id, contact_id)
            contact.setdefault("notes", []).append(body["body"])
            return dict(self.seed_note(contact_id, **body))

    def update_note(self, location_id: str, contact_id: str, note_id: str, body: Mapping[str, Any]) -> None:
        with self._lock:
            self._call("update_note", location_id)
            self.notes[note_id].update(body)
