"""In-memory GHL and Rankr behind the unified record ports (`rankr_ghl.ports.GhlRecords` and
`RankrRecords`; network blocked), plus a world that wires them into a Reconciler.

They follow the sandboxes' documented rules: GHL search sorts case-insensitively then by id, pages
with `page` or `searchAfter`, filters `dateUpdated` ranges; tags are stored lower-cased; deleting a
GHL contact deletes its tasks and notes. Rankr lists are ordered by (updatedAt, id), deletes are
soft, creates replay by idempotency key. Every write bumps the record's modification time.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rankr_ghl.flows.reconcile.jobs import ReconcileSettings
from rankr_ghl.flows.reconcile.record_values import common_fields
from rankr_ghl.flows.reconcile.run import Reconciler
from rankr_ghl.ports import GhlSearchPage as SearchPage
from rankr_ghl.ports import RankrPage, Record
from rankr_ghl.sync.diff import changed_fields
from rankr_ghl.sync.mapping import default_mapping
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import IdMapping
from rankr_ghl.sync.types import Entity

from fakes.sync_state import (
    FakeRankrIdempotencyKeys,
    InMemoryAuditLog,
    InMemoryCheckpointStore,
    InMemoryLeadClaimStore,
    InMemoryLedgerStore,
    InMemoryMappingStore,
    InMemoryTombstoneStore,
)

LOCATION = "locRecon1"
ACCOUNT = "acct-1"


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def __call__(self) -> datetime:
        return self.now


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class FakeGhl:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.contacts: dict[str, Record] = {}
        self.tasks: dict[str, Record] = {}
        self.notes: dict[str, Record] = {}
        self.calls: Counter[str] = Counter()
        self._ids = itertools.count(1)
        # GHL's undocumented search behaviours (docs/ghl-variants.md): "id", "ignored" or "shuffled";
        # "per_contact" or "none"; contacts (and tasks) not yet in the search index.
        self.search_order = "id"
        self.search_cursor = "per_contact"
        self.search_hidden: set[str] = set()
        self.search_stale: dict[str, Record] = {}  # an index entry older than the contact (lag)
        self.task_search_hidden: set[str] = set()
        self.task_body_key: str | None = "body"
        self.task_contact_key: str | None = "contactId"  # where the task search names the contact
        self.custom_field_null = "clears"
        self.rng = random.Random(7)

    # -- helpers
    def new_id(self, prefix: str = "G") -> str:
        return f"{prefix}{next(self._ids):05d}"

    @property
    def reads(self) -> int:
        return sum(n for k, n in self.calls.items() if k.startswith("read"))

    @property
    def writes(self) -> int:
        return sum(n for k, n in self.calls.items() if k.startswith("write"))

    def seed_contact(self, **fields: Any) -> Record:
        now = _iso(self.clock.tick())
        rec = {"id": fields.pop("id", None) or self.new_id(), "locationId": LOCATION, "dateAdded": now}
        rec["dateUpdated"] = now
        rec.update(fields)
        rec["tags"] = [t.lower() for t in rec.get("tags") or []]
        self.contacts[rec["id"]] = rec
        return rec

    def edit_contact(self, contact_id: str, **changes: Any) -> None:
        self.contacts[contact_id].update(changes)
        self.contacts[contact_id]["dateUpdated"] = _iso(self.clock.tick())

    # -- GhlPort
    def search_contacts(
        self,
        location_id: str,
        *,
        page_limit: int,
        sort: Sequence[Mapping[str, Any]],
        filters: Sequence[Mapping[str, Any]] | None = None,
        page: int | None = None,
        search_after: Sequence[Any] | None = None,
    ) -> SearchPage:
        self.calls["read:search"] += 1
        field = sort[0]["field"]
        rows = [
            dict(self.search_stale.get(r["id"], r))
            for r in self.contacts.values()
            if r["id"] not in self.search_hidden
        ]
        for f in filters or []:
            if f["field"] == "dateUpdated" and f["operator"] == "range":
                low = _parse(f["value"]["gte"])
                rows = [r for r in rows if _parse(r["dateUpdated"]) >= low]
            elif f["field"] == "tags" and f["operator"] == "eq":
                rows = [r for r in rows if f["value"] in r.get("tags", [])]

        def key(r: Record) -> tuple[Any, str]:
            if self.search_order == "ignored":  # a stable order unrelated to any field
                return (hashlib.blake2b(r["id"].encode(), digest_size=8).hexdigest(), r["id"])
            if field in ("dateAdded", "dateUpdated"):
                return (int(_parse(r[field]).timestamp() * 1000), r["id"])
            return (str(r.get(field) or "").lower(), r["id"])

        rows.sort(key=key)
        if search_after is not None:
            raw = search_after[0]
            numeric = isinstance(raw, int) and self.search_order != "ignored"
            cursor = (raw if numeric else str(raw).lower(), str(search_after[1]))
            rows = [r for r in rows if key(r) > cursor]
            selected = rows[:page_limit]
        else:
            start = ((page or 1) - 1) * page_limit
            selected = rows[start : start + page_limit]
        if self.search_order == "shuffled":
            selected = list(selected)
            self.rng.shuffle(selected)
        if self.search_cursor == "none":
            return SearchPage([dict(r) for r in selected], None)
        out = [dict(r, searchAfter=list(key(r))) for r in selected]
        return SearchPage(out, out[-1]["searchAfter"] if out else None)

    def find_contact_by_tag(self, location_id: str, tag: str) -> Record | None:
        self.calls["read:search"] += 1
        for r in sorted(self.contacts.values(), key=lambda r: r["dateAdded"]):
            if tag.lower() in r.get("tags", []):
                return dict(r)
        return None

    def get_contact(self, location_id: str, contact_id: str) -> Record | None:
        self.calls["read:contact"] += 1
        rec = self.contacts.get(contact_id)
        return dict(rec) if rec else None

    def get_task(self, location_id: str, contact_id: str, task_id: str) -> Record | None:
        self.calls["read:task"] += 1
        task = self.tasks.get(task_id)
        return dict(task) if task and task["contactId"] == contact_id else None

    def get_note(self, location_id: str, contact_id: str, note_id: str) -> Record | None:
        self.calls["read:note"] += 1
        note = self.notes.get(note_id)
        return dict(note) if note and note["contactId"] == contact_id else None

    def get(self, location_id: str, entity: Entity, record_id: str, parent_id: str | None) -> Record | None:
        if entity is Entity.CONTACT:
            return self.get_contact(location_id, record_id)
        if entity is Entity.TASK:
            return self.get_task(location_id, parent_id or "", record_id)
        if entity is Entity.NOTE:
            return self.get_note(location_id, parent_id or "", record_id)
        raise NotImplementedError("reconcile reads no appointments")

    def create_contact(self, location_id: str, body: Mapping[str, Any]) -> Record:
        self.calls["write:create_contact"] += 1
        return dict(self.seed_contact(**{k: v for k, v in body.items() if k != "locationId"}))

    def upsert_contact(self, location_id: str, body: Mapping[str, Any]) -> Record:
        self.calls["write:upsert_contact"] += 1
        for rec in self.contacts.values():
            if (body.get("email") and rec.get("email") == body["email"]) or (
                body.get("phone") and rec.get("phone") == body["phone"]
            ):
                # Like GHL's upsert: the fields sent replace the matched contact's, tags included.
                changes = {k: v for k, v in body.items() if k != "locationId"}
                if "tags" in changes:
                    changes["tags"] = sorted({str(tag).lower() for tag in changes["tags"]})
                self.edit_contact(rec["id"], **changes)
                return dict(rec)
        return dict(self.seed_contact(**{k: v for k, v in body.items() if k != "locationId"}))

    def update_contact(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> None:
        self.calls["write:update_contact"] += 1
        assert "companyName" not in body
        changes = dict(body)
        if "customFields" in changes:
            changes["customFields"] = self._custom_fields(contact_id, changes["customFields"])
        if "tags" in changes:  # PUT tags replaces every tag
            changes["tags"] = sorted({t.lower() for t in changes["tags"]})
        self.edit_contact(contact_id, **changes)

    def _custom_fields(self, contact_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Custom-field writes under the `custom_field_null` variant: a null clears, is ignored or is
        refused (422); an empty string always clears."""
        stored = {
            item["id"]: item.get("value") for item in self.contacts[contact_id].get("customFields") or []
        }
        for item in items:
            value = item.get("field_value")
            if value is None and self.custom_field_null == "422":
                raise ValueError("customFields: field_value must not be null")
            if value is None and self.custom_field_null == "ignored":
                continue
            stored[item["id"]] = value if value != "" else None
        return [{"id": key, "value": value} for key, value in stored.items() if value is not None]

    def delete_contact(self, location_id: str, contact_id: str) -> None:
        self.calls["write:delete_contact"] += 1
        self.contacts.pop(contact_id, None)
        self.tasks = {k: t for k, t in self.tasks.items() if t["contactId"] != contact_id}
        self.notes = {k: n for k, n in self.notes.items() if n["contactId"] != contact_id}

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> None:
        self.calls["write:add_tags"] += 1
        current = self.contacts[contact_id]["tags"]
        self.edit_contact(contact_id, tags=sorted({*current, *(t.lower() for t in tags)}))

    def remove_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> None:
        self.calls["write:remove_tags"] += 1
        drop = {t.lower() for t in tags}
        self.edit_contact(contact_id, tags=[t for t in self.contacts[contact_id]["tags"] if t not in drop])

    def search_tasks(self, location_id: str, *, limit: int, skip: int) -> list[Record]:
        self.calls["read:tasks"] += 1
        rows = sorted(
            (t for t in self.tasks.values() if t["id"] not in self.task_search_hidden),
            key=lambda t: (t["dateAdded"], t["id"]),
        )
        page = [dict(t) for t in rows[skip : skip + limit]]
        if self.task_body_key != "body":  # the search's loose shape: body as `description`, or absent
            for task in page:
                body = task.pop("body", None)
                if self.task_body_key is not None:
                    task[self.task_body_key] = body
        if self.task_contact_key != "contactId":  # ... and the contact under another key, or none
            for task in page:
                contact = task.pop("contactId", None)
                if self.task_contact_key is not None:
                    task[self.task_contact_key] = contact
        return page

    def list_tasks(self, location_id: str, contact_id: str) -> list[Record]:
        self.calls["read:contact_tasks"] += 1
        return [dict(t) for t in self.tasks.values() if t["contactId"] == contact_id]

    def seed_task(self, contact_id: str, **fields: Any) -> Record:
        task = {"id": self.new_id("T"), "contactId": contact_id, "dateAdded": _iso(self.clock.tick())}
        task.update({"completed": False, **fields})
        self.tasks[task["id"]] = task
        return task

    def create_task(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record:
        self.calls["write:create_task"] += 1
        return dict(self.seed_task(contact_id, **body))

    def update_task(self, location_id: str, contact_id: str, task_id: str, body: Mapping[str, Any]) -> None:
        self.calls["write:update_task"] += 1
        self.tasks[task_id].update(body)

    def list_notes(self, location_id: str, contact_id: str) -> list[Record]:
        self.calls["read:notes"] += 1
        return [dict(n) for n in self.notes.values() if n["contactId"] == contact_id]

    def seed_note(self, contact_id: str, **fields: Any) -> Record:
        note = {
            "id": self.new_id("N"),
            "contactId": contact_id,
            "dateAdded": _iso(self.clock.tick()),
            **fields,
        }
        self.notes[note["id"]] = note
        return note

    def create_note(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record:
        self.calls["write:create_note"] += 1
        return dict(self.seed_note(contact_id, **body))

    def update_note(self, location_id: str, contact_id: str, note_id: str, body: Mapping[str, Any]) -> None:
        self.calls["write:update_note"] += 1
        self.notes[note_id].update(body)


class FakeRankr:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.contacts: dict[str, Record] = {}
        self.tasks: dict[str, Record] = {}
        self.notes: dict[str, Record] = {}
        self.calls: Counter[str] = Counter()
        self.keys = FakeRankrIdempotencyKeys()  # same key + other body: the sandbox's 409
        self._ids = itertools.count(1)

    @property
    def writes(self) -> int:
        return sum(n for k, n in self.calls.items() if k.startswith("write"))

    def new_id(self, prefix: str = "r") -> str:
        return f"{prefix}{next(self._ids):05d}"

    def _stamp(self, rec: Record) -> None:
        rec["updatedAt"] = _iso(self.clock.tick())

    def seed_contact(self, **fields: Any) -> Record:
        rec: Record = {"id": fields.pop("id", None) or self.new_id(), "tags": [], "customFields": {}}
        rec.update(fields)
        rec["createdAt"] = _iso(self.clock.tick())
        self._stamp(rec)
        self.contacts[rec["id"]] = rec
        return rec

    def edit_contact(self, contact_id: str, **changes: Any) -> None:
        self.contacts[contact_id].update(changes)
        self._stamp(self.contacts[contact_id])

    def list_contacts(
        self,
        account_id: str,
        *,
        updated_since: datetime | None,
        include_deleted: bool,
        cursor: str | None,
        limit: int,
    ) -> RankrPage:
        self.calls["read:list"] += 1
        rows = sorted(self.contacts.values(), key=lambda r: (r["updatedAt"], r["id"]))
        if updated_since is not None:
            rows = [r for r in rows if r["updatedAt"] >= _iso(updated_since)]
        if not include_deleted:
            rows = [r for r in rows if not r.get("deletedAt")]
        start = int(cursor or 0)
        chunk = rows[start : start + limit]
        more = start + limit < len(rows)
        return RankrPage([dict(r) for r in chunk], str(start + limit) if more else None)

    def get_contact(self, account_id: str, contact_id: str) -> Record | None:
        self.calls["read:get"] += 1
        rec = self.contacts.get(contact_id)
        return dict(rec) if rec else None

    def create_contact(self, account_id: str, body: Mapping[str, Any], *, idempotency_key: str) -> Record:
        self.calls["write:create_contact"] += 1
        collection = f"/v1/accounts/{account_id}/contacts"
        replayed = self.keys.replayed_id(account_id, collection, idempotency_key, body)
        if replayed is not None:
            return dict(self.contacts[replayed])
        rec = self.seed_contact(**body)
        self.keys.remember(account_id, collection, idempotency_key, body, rec["id"])
        return dict(rec)

    def update_contact(self, account_id: str, contact_id: str, body: Mapping[str, Any]) -> None:
        self.calls["write:update_contact"] += 1
        assert not self.contacts[contact_id].get("deletedAt"), "PATCH on a deleted record is a 409"
        self.edit_contact(contact_id, **body)

    def delete_contact(self, account_id: str, contact_id: str) -> None:
        self.calls["write:delete_contact"] += 1
        if contact_id in self.contacts and not self.contacts[contact_id].get("deletedAt"):
            self.edit_contact(contact_id, deletedAt=_iso(self.clock.now))

    def list_tasks(
        self, account_id: str, contact_id: str, *, updated_since: datetime | None = None
    ) -> list[Record]:
        self.calls["read:tasks"] += 1
        return [dict(t) for t in self.tasks.values() if t["contactId"] == contact_id]

    def get_task(self, account_id: str, contact_id: str, task_id: str) -> Record | None:
        self.calls["read:task"] += 1
        task = self.tasks.get(task_id)
        return dict(task) if task else None

    def seed_task(self, contact_id: str, **fields: Any) -> Record:
        task: Record = {"id": self.new_id("rt"), "contactId": contact_id, "completed": False, **fields}
        task["createdAt"] = _iso(self.clock.tick())
        self._stamp(task)
        self.tasks[task["id"]] = task
        return task

    def create_task(
        self, account_id: str, contact_id: str, body: Mapping[str, Any], *, idempotency_key: str
    ) -> Record:
        self.calls["write:create_task"] += 1
        collection = f"/v1/accounts/{account_id}/contacts/{contact_id}/tasks"
        replayed = self.keys.replayed_id(account_id, collection, idempotency_key, body)
        if replayed is not None:
            return dict(self.tasks[replayed])
        task = self.seed_task(contact_id, **body)
        self.keys.remember(account_id, collection, idempotency_key, body, task["id"])
        return dict(task)

    def update_task(self, account_id: str, contact_id: str, task_id: str, body: Mapping[str, Any]) -> None:
        self.calls["write:update_task"] += 1
        self.tasks[task_id].update(body)
        self._stamp(self.tasks[task_id])

    def delete_task(self, account_id: str, contact_id: str, task_id: str) -> None:
        self.calls["write:delete_task"] += 1
        self.tasks[task_id]["deletedAt"] = _iso(self.clock.now)

    def list_notes(self, account_id: str, contact_id: str) -> list[Record]:
        self.calls["read:notes"] += 1
        return [dict(n) for n in self.notes.values() if n["contactId"] == contact_id]

    def create_note(
        self, account_id: str, contact_id: str, body: Mapping[str, Any], *, idempotency_key: str
    ) -> Record:
        self.calls["write:create_note"] += 1
        collection = f"/v1/accounts/{account_id}/contacts/{contact_id}/notes"
        replayed = self.keys.replayed_id(account_id, collection, idempotency_key, body)
        if replayed is not None:
            return dict(self.notes[replayed])
        note: Record = {"id": self.new_id("rn"), "contactId": contact_id, **body}
        self._stamp(note)
        self.notes[note["id"]] = note
        self.keys.remember(account_id, collection, idempotency_key, body, note["id"])
        return dict(note)

    def update_note(self, account_id: str, contact_id: str, note_id: str, body: Mapping[str, Any]) -> None:
        self.calls["write:update_note"] += 1
        self.notes[note_id].update(body)
        self._stamp(self.notes[note_id])

    def delete_note(self, account_id: str, contact_id: str, note_id: str) -> None:
        self.calls["write:delete_note"] += 1
        self.notes[note_id]["deletedAt"] = _iso(self.clock.now)

    # -- RankrRecords: dispatch by entity (parent_id: the Rankr contact of a task or note)
    def get(self, account_id: str, entity: Entity, record_id: str, parent_id: str | None) -> Record | None:
        if entity is Entity.CONTACT:
            return self.get_contact(account_id, record_id)
        if entity is Entity.TASK:
            return self.get_task(account_id, parent_id or "", record_id)
        self.calls["read:note"] += 1
        note = self.notes.get(record_id)
        return dict(note) if note else None

    def create(
        self, account_id: str, entity: Entity, body: Mapping[str, Any], parent_id: str | None, key: str
    ) -> Record:
        if entity is Entity.CONTACT:
            return self.create_contact(account_id, body, idempotency_key=key)
        if entity is Entity.TASK:
            return self.create_task(account_id, parent_id or "", body, idempotency_key=key)
        return self.create_note(account_id, parent_id or "", body, idempotency_key=key)

    def update(
        self, account_id: str, entity: Entity, record_id: str, body: Mapping[str, Any], parent_id: str | None
    ) -> Record:
        if entity is Entity.CONTACT:
            self.update_contact(account_id, record_id, body)
            return dict(self.contacts[record_id])
        if entity is Entity.TASK:
            self.update_task(account_id, parent_id or "", record_id, body)
            return dict(self.tasks[record_id])
        self.update_note(account_id, parent_id or "", record_id, body)
        return dict(self.notes[record_id])

    def delete(self, account_id: str, entity: Entity, record_id: str, parent_id: str | None) -> None:
        if entity is Entity.CONTACT:
            self.delete_contact(account_id, record_id)
        elif entity is Entity.TASK:
            self.delete_task(account_id, parent_id or "", record_id)
        else:
            self.delete_note(account_id, parent_id or "", record_id)


class CountingMetrics:
    """The `Counter` port, remembering what was counted."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def count(self, name: str, reason: str | None = None) -> None:
        self.counts[name if reason is None else f"{name}:{reason}"] += 1


class World:
    """Both fakes, the sync stores and a Reconciler over them."""

    def __init__(self, *, page_size: int = 5, **settings: Any) -> None:
        self.clock = FakeClock()
        self.ghl = FakeGhl(self.clock)
        self.rankr = FakeRankr(self.clock)
        self.mappings = InMemoryMappingStore()
        self.ledger = InMemoryLedgerStore()
        self.tombstones = InMemoryTombstoneStore()
        self.checkpoints = InMemoryCheckpointStore()
        self.audit = InMemoryAuditLog()
        self.lead_claims = InMemoryLeadClaimStore()
        self.metrics = CountingMetrics()
        self.settings = ReconcileSettings(page_size=page_size, task_page_size=3, **settings)
        self.reconciler = self.make_reconciler()

    def make_reconciler(
        self, *, ghl: Any = None, rankr: Any = None, mapping_resolver: Any = None
    ) -> Reconciler:
        return Reconciler(
            mapping_resolver=mapping_resolver or MappingResolver(),
            ghl=ghl or self.ghl,
            rankr=rankr or self.rankr,
            mappings=self.mappings,
            ledger=self.ledger,
            tombstones=self.tombstones,
            checkpoints=self.checkpoints,
            audit=self.audit,
            lead_claims=self.lead_claims,
            metrics=self.metrics,
            settings=self.settings,
            clock=self.clock,
        )

    def mirrored_pair(self, n: int) -> tuple[str, str]:
        fields = {
            "firstName": f"First{n}",
            "lastName": f"Last{n}",
            "email": f"p{n}@example.com",
            "tags": ["vip"],
        }
        g = self.ghl.seed_contact(**fields, phone=f"+1555000{n:04d}", source="web")
        r = self.rankr.seed_contact(**fields, phone=f"+1555000{n:04d}", source="web")
        self.mappings.put(IdMapping(LOCATION, Entity.CONTACT, g["id"], r["id"], account_id=ACCOUNT))
        return g["id"], r["id"]

    def mirrored_task(self, ghl_contact: str, rankr_contact: str, title: str) -> tuple[str, str]:
        due = "2025-04-01T10:00:00.000Z"
        g = self.ghl.seed_task(ghl_contact, title=title, body="b", dueDate=due)
        r = self.rankr.seed_task(rankr_contact, title=title, body="b", dueDate=due)
        self.mappings.put(
            IdMapping(
                LOCATION,
                Entity.TASK,
                g["id"],
                r["id"],
                ghl_parent_id=ghl_contact,
                rankr_parent_id=rankr_contact,
            )
        )
        return g["id"], r["id"]

    def remaining_differences(self) -> list[str]:
        """Everything a converged location must not have (checked from the outside, not via the run)."""
        mapping = default_mapping()
        cm, tm = mapping.contact, mapping.for_entity(Entity.TASK)
        problems: list[str] = []
        live_ghl = dict(self.ghl.contacts)
        live_rankr = {k: v for k, v in self.rankr.contacts.items() if not v.get("deletedAt")}
        mapped_ghl: set[str] = set()
        mapped_rankr: set[str] = set()
        for m in self.mappings.list_for_location(LOCATION, Entity.CONTACT):
            g, r = live_ghl.get(m.ghl_id), live_rankr.get(m.rankr_id)
            mapped_ghl.add(m.ghl_id)
            mapped_rankr.add(m.rankr_id)
            if g is None and r is None:
                continue
            if g is None:
                problems.append(f"orphan mapping {m.ghl_id} (Rankr {m.rankr_id} still live)")
            elif r is None:
                if cm.deleted_tag not in g.get("tags", []):
                    problems.append(f"GHL {m.ghl_id} live and unmarked, Rankr {m.rankr_id} deleted")
            else:
                fields = changed_fields(cm.from_ghl(g), cm.from_rankr(r), common_fields(cm))
                if fields:
                    problems.append(f"pair {m.ghl_id}/{m.rankr_id} differs in {fields}")
        problems += [f"GHL {gid} never mapped" for gid in live_ghl if gid not in mapped_ghl]
        problems += [f"Rankr {rid} never mapped" for rid in live_rankr if rid not in mapped_rankr]
        for m in self.mappings.list_for_location(LOCATION, Entity.TASK):
            g, r = self.ghl.tasks.get(m.ghl_id), self.rankr.tasks.get(m.rankr_id)
            if g is None:
                if r is not None and not r.get("deletedAt"):
                    problems.append(f"task {m.rankr_id} live in Rankr, gone in GHL")
                continue
            if r is None or r.get("deletedAt"):
                continue
            fields = changed_fields(tm.from_ghl(g), tm.from_rankr(r), common_fields(tm))
            if fields:
                problems.append(f"task pair {m.ghl_id}/{m.rankr_id} differs in {fields}")
        mapped_tasks = {m.ghl_id for m in self.mappings.list_for_location(LOCATION, Entity.TASK)}
        for tid, task in self.ghl.tasks.items():
            if tid not in mapped_tasks and task["contactId"] in mapped_ghl:
                problems.append(f"GHL task {tid} never mapped")
        return problems
