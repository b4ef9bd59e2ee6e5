"""`FakeRankrRecords`: `rankr_ghl.ports.RankrRecords` in memory, the one Rankr fake of the unit tests,
faithful to docs/rankr-api.yaml where the flows depend on it: creates replay by `Idempotency-Key`
(same key + other body: the 409 naming the record the key created), a task or note under an unknown
contact is a 404, deletes are soft, a PATCH on a deleted record is a 409, every write stamps the
record's `updatedAt`, contact lists are ordered by (updatedAt, id) and filter on `updated_since`.

`records` holds every record by (entity, id); `contacts`, `tasks` and `notes` are views by id.
`calls` lists every call as (operation, entity); `writes` lists every write that changed a record as
(operation, entity, id) (a replayed create or the delete of a deleted record changes nothing)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rankr_ghl.ports import RankrPage, Record
from rankr_ghl.rankr.errors import RankrNotFound, RankrResourceDeleted
from rankr_ghl.sync.types import Entity

from fakes.clock import Clock, WallClock, iso
from fakes.sync_state import FakeRankrIdempotencyKeys

WRITES = frozenset({"create", "update", "delete", "put"})
_ID_PREFIX = {Entity.CONTACT: "r", Entity.TASK: "rt", Entity.NOTE: "rn", Entity.APPOINTMENT: "ra"}


@dataclass
class FakeRankrRecords:
    records: dict[tuple[Entity, str], dict[str, Any]] = field(default_factory=dict)
    keys: FakeRankrIdempotencyKeys = field(default_factory=FakeRankrIdempotencyKeys)
    writes: list[tuple[str, Entity, str]] = field(default_factory=list)
    calls: list[tuple[str, Entity]] = field(default_factory=list)
    ids: Any = field(default_factory=lambda: itertools.count(1))
    clock: Clock = field(default_factory=WallClock)

    # -- helpers for tests
    def by_id(self, entity: Entity) -> dict[str, dict[str, Any]]:
        """The stored records of `entity` by id (the records themselves; deleted ones included)."""
        return {record_id: r for (e, record_id), r in self.records.items() if e is entity}

    @property
    def contacts(self) -> dict[str, dict[str, Any]]:
        return self.by_id(Entity.CONTACT)

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return self.by_id(Entity.TASK)

    @property
    def notes(self) -> dict[str, dict[str, Any]]:
        return self.by_id(Entity.NOTE)

    def live(self, entity: Entity) -> list[dict[str, Any]]:
        return [r for r in self.by_id(entity).values() if not r.get("deletedAt")]

    def live_ids(self, entity: Entity) -> list[str]:
        return sorted(str(r["id"]) for r in self.live(entity))

    def count(self, op: str, entity: Entity | None = None) -> int:
        return sum(1 for o, e in self.calls if o == op and entity in (None, e))

    @property
    def write_calls(self) -> int:
        """Write calls, whether or not they changed a record."""
        return sum(1 for op, _ in self.calls if op in WRITES)

    def seed(self, entity: Entity, record: Mapping[str, Any]) -> None:
        """A record that exists before the test, exactly as given (no call or write recorded)."""
        self.records[(entity, str(record["id"]))] = {"deletedAt": None, **record}

    def seed_contact(self, **fields: Any) -> Record:
        """A contact that exists before the test, created and updated now."""
        return self._seed(Entity.CONTACT, {"tags": [], "customFields": {}, **fields})

    def seed_task(self, contact_id: str, **fields: Any) -> Record:
        return self._seed(Entity.TASK, {"contactId": contact_id, "completed": False, **fields})

    def edit_contact(self, contact_id: str, **changes: Any) -> None:
        """A change made in Rankr by someone else (no call or write recorded)."""
        self._stamp(self.records[(Entity.CONTACT, contact_id)], changes)

    # -- internals
    def _seed(self, entity: Entity, fields: dict[str, Any]) -> Record:
        record_id = str(fields.pop("id", None) or f"{_ID_PREFIX[entity]}{next(self.ids):05d}")
        record = {"id": record_id, **fields, "createdAt": iso(self.clock.tick()), "deletedAt": None}
        self._stamp(record, {})
        self.records[(entity, record_id)] = record
        return record

    def _stamp(self, record: dict[str, Any], changes: Mapping[str, Any]) -> None:
        record.update(changes)
        record["updatedAt"] = iso(self.clock.tick())

    # -- RankrRecords
    def get(self, account_id: str, entity: Entity, record_id: str, parent_id: str | None) -> Record | None:
        self.calls.append(("get", entity))
        record = self.records.get((entity, record_id))
        return dict(record) if record else None

    def create(
        self, account_id: str, entity: Entity, body: Mapping[str, Any], parent_id: str | None, key: str
    ) -> Record:
        self.calls.append(("create", entity))
        collection = f"/v1/accounts/{account_id}/contacts"
        if entity is not Entity.CONTACT:
            if (Entity.CONTACT, parent_id) not in self.records:  # as Rankr: 404 for an unknown contact
                raise RankrNotFound(404, "Not Found", f"contact {parent_id} does not exist")
            collection += f"/{parent_id}/{entity.value}s"
        replayed = self.keys.replayed_id(account_id, collection, key, body)  # other body: the 409
        if replayed is not None:
            return dict(self.records[(entity, replayed)])
        fields = {**body, "contactId": parent_id} if parent_id else dict(body)
        record = self._seed(entity, fields)
        self.keys.remember(account_id, collection, key, body, record["id"])
        self.writes.append(("create", entity, record["id"]))
        return dict(record)

    def update(
        self, account_id: str, entity: Entity, record_id: str, body: Mapping[str, Any], parent_id: str | None
    ) -> Record:
        self.calls.append(("update", entity))
        record = self.records[(entity, record_id)]
        if record.get("deletedAt"):
            raise RankrResourceDeleted(409, "Conflict", f"{entity.value} {record_id} is deleted")
        self._stamp(record, body)
        self.writes.append(("update", entity, record_id))
        return dict(record)

    def delete(self, account_id: str, entity: Entity, record_id: str, parent_id: str | None) -> None:
        self.calls.append(("delete", entity))
        record = self.records.get((entity, record_id))
        if record is not None and not record.get("deletedAt"):
            self._stamp(record, {"deletedAt": iso(self.clock())})
            self.writes.append(("delete", entity, record_id))

    def put_appointment(self, account_id: str, external_id: str, body: Mapping[str, Any]) -> Record:
        self.calls.append(("put", Entity.APPOINTMENT))
        record = {**body, "externalId": external_id, "deletedAt": None}
        self._stamp(record, {})
        self.records[(Entity.APPOINTMENT, external_id)] = record
        self.writes.append(("put", Entity.APPOINTMENT, external_id))
        return dict(record)

    def list_contacts(
        self,
        account_id: str,
        *,
        updated_since: datetime | None,
        include_deleted: bool,
        cursor: str | None,
        limit: int,
    ) -> RankrPage:
        self.calls.append(("list", Entity.CONTACT))
        rows = sorted(self.contacts.values(), key=lambda r: (str(r.get("updatedAt") or ""), r["id"]))
        if updated_since is not None:
            rows = [r for r in rows if str(r.get("updatedAt") or "") >= iso(updated_since)]
        if not include_deleted:
            rows = [r for r in rows if not r.get("deletedAt")]
        start = int(cursor or 0)
        more = start + limit < len(rows)
        return RankrPage([dict(r) for r in rows[start : start + limit]], str(start + limit) if more else None)

    def list_tasks(
        self, account_id: str, contact_id: str, *, updated_since: datetime | None = None
    ) -> list[Record]:
        self.calls.append(("list", Entity.TASK))
        return [dict(r) for r in self.tasks.values() if r.get("contactId") == contact_id]

    def list_notes(self, account_id: str, contact_id: str) -> list[Record]:
        self.calls.append(("list", Entity.NOTE))
        return [dict(r) for r in self.notes.values() if r.get("contactId") == contact_id]
