"""`FakeRankrRecords`: `rankr_ghl.ports.RankrRecords` in memory, faithful to docs/rankr-api.yaml where
the flows depend on it: creates replay by `Idempotency-Key` (same key + other body: the 409 naming the
record the key created), a task or note under an unknown contact is a 404, deletes are soft.
`writes` lists every write as (operation, entity, id)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rankr_ghl.ports import RankrPage, Record
from rankr_ghl.rankr.errors import RankrNotFound
from rankr_ghl.sync.types import Entity

from fakes.sync_state import FakeRankrIdempotencyKeys


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class FakeRankrRecords:
    records: dict[tuple[Entity, str], dict[str, Any]] = field(default_factory=dict)
    keys: FakeRankrIdempotencyKeys = field(default_factory=FakeRankrIdempotencyKeys)
    writes: list[tuple[str, Entity, str]] = field(default_factory=list)
    ids: Any = field(default_factory=lambda: itertools.count(1))

    # -- helpers for tests
    def seed(self, entity: Entity, record: Mapping[str, Any]) -> None:
        """A record that exists before the test (no write recorded)."""
        self.records[(entity, str(record["id"]))] = {"deletedAt": None, **record}

    def live(self, entity: Entity) -> list[dict[str, Any]]:
        return [r for (e, _), r in self.records.items() if e is entity and not r.get("deletedAt")]

    def live_ids(self, entity: Entity) -> list[str]:
        return sorted(str(r["id"]) for r in self.live(entity))

    # -- RankrRecords
    def get(self, account_id: str, entity: Entity, record_id: str, parent_id: str | None) -> Record | None:
        record = self.records.get((entity, record_id))
        return dict(record) if record else None

    def create(
        self, account_id: str, entity: Entity, body: Mapping[str, Any], parent_id: str | None, key: str
    ) -> Record:
        collection = f"/v1/accounts/{account_id}/contacts"
        if entity is not Entity.CONTACT:
            if (Entity.CONTACT, parent_id) not in self.records:  # as Rankr: 404 for an unknown contact
                raise RankrNotFound(404, "Not Found", f"contact {parent_id} does not exist")
            collection += f"/{parent_id}/{entity.value}s"
        replayed = self.keys.replayed_id(account_id, collection, key, body)  # other body: the 409
        if replayed is not None:
            return dict(self.records[(entity, replayed)])
        record_id = f"r{entity.value}{next(self.ids)}"
        record = {**body, "id": record_id, "createdAt": now_iso(), "updatedAt": now_iso(), "deletedAt": None}
        if parent_id:
            record["contactId"] = parent_id
        self.records[(entity, record_id)] = record
        self.keys.remember(account_id, collection, key, body, record_id)
        self.writes.append(("create", entity, record_id))
        return dict(record)

    def update(
        self, account_id: str, entity: Entity, record_id: str, body: Mapping[str, Any], parent_id: str | None
    ) -> Record:
        record = self.records[(entity, record_id)]
        record.update(body, updatedAt=now_iso())
        self.writes.append(("update", entity, record_id))
        return dict(record)

    def delete(self, account_id: str, entity: Entity, record_id: str, parent_id: str | None) -> None:
        record = self.records.get((entity, record_id))
        if record is not None and not record.get("deletedAt"):
            record["deletedAt"] = now_iso()
            self.writes.append(("delete", entity, record_id))

    def put_appointment(self, account_id: str, external_id: str, body: Mapping[str, Any]) -> Record:
        record = {**body, "externalId": external_id, "updatedAt": now_iso(), "deletedAt": None}
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
        contacts = [
            dict(r)
            for (e, _), r in sorted(self.records.items())
            if e is Entity.CONTACT and (include_deleted or not r.get("deletedAt"))
        ]
        start = int(cursor or 0)
        page = contacts[start : start + limit]
        return RankrPage(page, str(start + limit) if start + limit < len(contacts) else None)

    def list_tasks(
        self, account_id: str, contact_id: str, *, updated_since: datetime | None = None
    ) -> list[Record]:
        return [
            dict(r)
            for (e, _), r in self.records.items()
            if e is Entity.TASK and r.get("contactId") == contact_id
        ]

    def list_notes(self, account_id: str, contact_id: str) -> list[Record]:
        return [
            dict(r)
            for (e, _), r in self.records.items()
            if e is Entity.NOTE and r.get("contactId") == contact_id
        ]
