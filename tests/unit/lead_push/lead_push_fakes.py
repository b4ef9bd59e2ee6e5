"""In-memory GHL, records and location resolver for the lead-push flow (network blocked).

Imported by tests/unit/lead_push (its folder is on sys.path through pytest's rootdir imports).

The fake GHL follows the sandbox's (and GHL's) documented rules: upsert matches by the location's
duplicate priority, tags are stored lower-cased, a 422 "but created" fault creates the contact and
still fails. Powertools Idempotency runs for real on moto's in-process DynamoDB.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the shared sync fakes

from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: E402
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer  # noqa: E402
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord  # noqa: E402
from fakes import InMemoryAuditLog, InMemoryLedgerStore, InMemoryMappingStore  # noqa: E402
from rankr_ghl.flows.lead_push import (  # noqa: E402
    ErrorCode,
    FoundContact,
    Lead,
    LeadPushFailure,
    LeadPushService,
    LeadTask,
    SyncLeadRecords,
    UpsertOutcome,
)
from rankr_ghl.ghl.errors import (  # noqa: E402
    GHLDuplicateContact,
    GHLNotFound,
    GHLServerError,
    GHLTimeout,
    GHLUnprocessable,
)
from rankr_ghl.sync.mapping import FieldMapping, default_mapping, load_mapping  # noqa: E402
from rankr_ghl.sync.mapping_resolver import MappingResolver  # noqa: E402
from rankr_ghl.sync.ports import AuditEntry, IdMapping  # noqa: E402
from rankr_ghl.sync.types import Entity  # noqa: E402

LOCATION = "loc1"
OTHER_LOCATION = "loc2"


def _match_key(fld: str, value: str | None) -> str:
    """GHL compares e-mails case-insensitively and phones by their digits."""
    if not value:
        return ""
    return "".join(ch for ch in value if ch.isdigit()) if fld == "phone" else value.lower()


@dataclass
class FakeLocation:
    allow_duplicates: bool = False
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeGHL:
    """LeadGHL in memory. `faults` is a list of (operation, kind) consumed in order."""

    def __init__(self) -> None:
        self.locations: dict[str, FakeLocation] = {LOCATION: FakeLocation(), OTHER_LOCATION: FakeLocation()}
        self.calls: list[tuple[str, str]] = []
        self.faults: list[tuple[str, str]] = []
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.lookup_lag = 0  # how many duplicate lookups still miss everything
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # -- helpers for tests
    def contacts(self, location_id: str = LOCATION) -> list[dict[str, Any]]:
        return list(self.locations[location_id].contacts.values())

    def seed(self, location_id: str = LOCATION, **fields: Any) -> str:
        with self._lock:
            cid = f"c{next(self._ids)}"
            tags = [t.lower() for t in fields.pop("tags", [])]
            self.locations[location_id].contacts[cid] = {
                "id": cid,
                "tags": tags,
                "dateAdded": datetime(2020, 1, 1, tzinfo=UTC),
                **fields,
            }
            return cid

    def count(self, op: str) -> int:
        return sum(1 for o, _ in self.calls if o == op)

    def _fault(self, op: str) -> str | None:
        for i, (fop, kind) in enumerate(self.faults):
            if fop == op:
                del self.faults[i]
                return kind
        return None

    def _found(self, c: Mapping[str, Any]) -> FoundContact:
        return FoundContact(
            id=c["id"],
            email=c.get("email"),
            phone=c.get("phone"),
            tags=tuple(c["tags"]),
            date_added=c["dateAdded"],
        )

    def _match(self, loc: FakeLocation, email: str | None, phone: str | None) -> tuple[str, str] | None:
        for fld, value in (("email", email), ("phone", phone)):
            if not value:
                continue
            for c in loc.contacts.values():
                if _match_key(fld, c.get(fld)) == _match_key(fld, value):
                    return c["id"], fld
        return None

    # -- LeadGHL
    def upsert_contact(self, location_id: str, body: Mapping[str, Any]) -> UpsertOutcome:
        with self._lock:
            self.calls.append(("upsert", location_id))
            self.bodies.append(("upsert", dict(body)))
            fault = self._fault("upsert")
            if fault == "500":
                raise GHLServerError("boom", status=500, may_have_been_applied=True)
            loc = self.locations[location_id]
            match = self._match(loc, body.get("email"), body.get("phone"))
            fields = {k: v for k, v in body.items() if k != "tags"}
            if match is None:
                cid = f"c{next(self._ids)}"
                loc.contacts[cid] = {
                    "id": cid,
                    "tags": [t.lower() for t in body.get("tags", [])],
                    "dateAdded": datetime.now(UTC),
                    **fields,
                }
                if fault == "422created":
                    raise GHLUnprocessable(
                        "property x should not exist", status=422, may_have_been_applied=True
                    )
                if fault == "timeout_created":
                    raise GHLTimeout("timed out", may_have_been_applied=True)
                return UpsertOutcome(contact=self._found(loc.contacts[cid]), new=True)
            contact = loc.contacts[match[0]]
            if "tags" in body:  # GHL: an upsert's tag list replaces every tag
                contact["tags"] = [t.lower() for t in body["tags"]]
            contact.update(fields)
            return UpsertOutcome(contact=self._found(contact), new=False)

    def create_contact(self, location_id: str, body: Mapping[str, Any]) -> FoundContact:
        with self._lock:
            self.calls.append(("create", location_id))
            self.bodies.append(("create", dict(body)))
            fault = self._fault("create")
            if fault == "500":
                raise GHLServerError("boom", status=500, may_have_been_applied=True)
            loc = self.locations[location_id]
            match = self._match(loc, body.get("email"), body.get("phone"))
            if match is not None and not loc.allow_duplicates:
                raise GHLDuplicateContact(
                    "This location does not allow duplicated contacts.",
                    contact_id=match[0],
                    matching_field=match[1],
                )
            cid = f"c{next(self._ids)}"
            fields = {k: v for k, v in body.items() if k != "tags"}
            loc.contacts[cid] = {
                "id": cid,
                "tags": [t.lower() for t in body.get("tags", [])],
                "dateAdded": datetime.now(UTC),
                **fields,
            }
            if fault == "422created":
                raise GHLUnprocessable("Unprocessable Entity", status=422, may_have_been_applied=True)
            return self._found(loc.contacts[cid])

    def update_contact(
        self, location_id: str, contact_id: str, body: Mapping[str, Any]
    ) -> FoundContact | None:
        with self._lock:
            self.calls.append(("update", location_id))
            self.bodies.append(("update", dict(body)))
            contact = self.locations[location_id].contacts.get(contact_id)
            if contact is None:
                raise GHLNotFound("Contact not found", status=404)
            contact.update({k: v for k, v in body.items() if k != "tags"})
            return self._found(contact)

    def find_duplicate(
        self, location_id: str, *, email: str | None, phone: str | None
    ) -> FoundContact | None:
        with self._lock:
            self.calls.append(("find_duplicate", location_id))
            if self.lookup_lag:  # GHL: "updates may take a few seconds to appear in search results"
                self.lookup_lag -= 1
                return None
            loc = self.locations[location_id]
            match = self._match(loc, email, phone)
            return self._found(loc.contacts[match[0]]) if match else None

    def find_by_tag(self, location_id: str, tag: str) -> FoundContact | None:
        with self._lock:
            self.calls.append(("find_by_tag", location_id))
            for c in self.locations[location_id].contacts.values():
                if tag.lower() in c["tags"]:
                    return self._found(c)
            return None

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        with self._lock:
            self.calls.append(("add_tags", location_id))
            contact = self.locations[location_id].contacts[contact_id]
            for t in tags:
                if t.lower() not in contact["tags"]:
                    contact["tags"].append(t.lower())
            return list(contact["tags"])

    def create_note(self, location_id: str, contact_id: str, body: str, title: str | None) -> None:
        with self._lock:
            self.calls.append(("create_note", location_id))
            self.locations[location_id].contacts[contact_id].setdefault("notes", []).append(body)

    def create_task(self, location_id: str, contact_id: str, task: LeadTask, due: datetime) -> None:
        with self._lock:
            self.calls.append(("create_task", location_id))
            self.locations[location_id].contacts[contact_id].setdefault("tasks", []).append((task.title, due))


CUSTOM_FIELDS_MAPPING = [
    {"name": "budget", "ghl_id": "cf_budget", "rankr": "budget"},
    {"name": "industry", "ghl_key": "contact.industry", "rankr": "industry"},
]


def lead_mapping() -> FieldMapping:
    """The built-in mapping plus two custom fields (by GHL id and by GHL key)."""
    document = default_mapping().document.model_dump(mode="json")
    document["contact"]["custom_fields"] = CUSTOM_FIELDS_MAPPING
    return load_mapping(document)


class FlakyMappingStore(InMemoryMappingStore):
    fail_next_put = False

    def put(self, mapping: IdMapping) -> IdMapping:
        if self.fail_next_put:
            self.fail_next_put = False
            raise RuntimeError("DynamoDB unavailable")
        return super().put(mapping)


class Records:
    """The real SyncLeadRecords over the shared in-memory sync stores, plus test accessors."""

    def __init__(self, resolver: MappingResolver) -> None:
        self.mappings = FlakyMappingStore()
        self.ledger = InMemoryLedgerStore()
        self.audit_log = InMemoryAuditLog()
        self.adapter = SyncLeadRecords(self.mappings, self.ledger, self.audit_log, resolver)

    @property
    def audits(self) -> list[AuditEntry]:
        return self.audit_log.entries

    def contact_of(self, lead_id: str, location_id: str = LOCATION) -> str | None:
        m = self.mappings.get_by_rankr(location_id, Entity.CONTACT, lead_id)
        return m.ghl_id if m else None

    def matched_by(self, lead_id: str, location_id: str = LOCATION) -> str | None:
        m = self.mappings.get_by_rankr(location_id, Entity.CONTACT, lead_id)
        return m.attributes.get("matchedBy") if m else None


class FakeLocations:
    accounts = {"acct-1": LOCATION}

    def location_for(self, lead: Lead) -> str:
        if lead.rankrAccountId is not None:
            location = self.accounts.get(lead.rankrAccountId)
            if location is None:
                raise LeadPushFailure(
                    ErrorCode.UNKNOWN_ACCOUNT, "no connection for this account", retryable=False
                )
            if lead.locationId is not None and lead.locationId != location:
                raise LeadPushFailure(
                    ErrorCode.LOCATION_NOT_CONNECTED,
                    "location not connected to this account",
                    retryable=False,
                )
            return location
        assert lead.locationId is not None
        if lead.locationId not in (LOCATION, OTHER_LOCATION):
            raise LeadPushFailure(ErrorCode.LOCATION_NOT_CONNECTED, "location not connected", retryable=False)
        return lead.locationId


@dataclass
class World:
    ghl: FakeGHL
    records: Records
    service: LeadPushService
    config: Any
    resolver: MappingResolver


class InMemoryIdempotencyStore(BasePersistenceLayer):
    """Powertools' persistence layer in memory with DynamoDB's atomic conditional put (moto's
    in-process put_item is not atomic under threads, so it cannot prove the concurrency case)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, DataRecord] = {}
        self._guard = threading.Lock()

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with self._guard:
            record = self.records.get(idempotency_key)
        if record is None:
            raise IdempotencyItemNotFoundError
        return record

    def _put_record(self, data_record: DataRecord) -> None:
        now = time.time()
        with self._guard:
            old = self.records.get(data_record.idempotency_key)
            replaceable = (
                old is None
                or (old.expiry_timestamp or 0) < now
                or (
                    old.status == "INPROGRESS"
                    and old.in_progress_expiry_timestamp is not None
                    and old.in_progress_expiry_timestamp < now * 1000
                )
            )
            if not replaceable:
                raise IdempotencyItemAlreadyExistsError(old_data_record=old)
            self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        with self._guard:
            self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._guard:
            self.records.pop(data_record.idempotency_key, None)
