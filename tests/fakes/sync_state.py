"""In-memory fakes of the sync ports (`rankr_ghl.sync.ports`), faithful to the DynamoDB adapters.

Import in tests as `from fakes import InMemorySyncState` (tests/ is on sys.path via tests/conftest.py).
Semantics kept identical to `rankr_ghl.aws.sync_state` / `rankr_ghl.aws.audit`:
- a GHL id maps to at most one Rankr id and vice versa (`MappingConflict`), same pair again is a no-op;
- tombstones and dedupe claims expire after their TTL (against the injectable clock);
- checkpoints use optimistic versions (`CheckpointConflict`);
- audit entries expire after the retention and are returned newest first; errors are redacted.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from rankr_ghl.observability import redact_text
from rankr_ghl.sync.ports import (
    AuditEntry,
    Checkpoint,
    CheckpointConflict,
    IdMapping,
    LeadClaim,
    LeadClaimResult,
    LedgerEntry,
    MappingConflict,
    Tombstone,
    utcnow,
)
from rankr_ghl.sync.record_state import MirrorState, RecordState
from rankr_ghl.sync.types import Entity, Side

Clock = Callable[[], datetime]


class InMemoryMappingStore:
    def __init__(self) -> None:
        self._by_ghl: dict[tuple[str, Entity, str], IdMapping] = {}
        self._by_rankr: dict[tuple[str, Entity, str], IdMapping] = {}
        self._lock = threading.Lock()

    def get_by_ghl(self, location_id: str, entity: Entity, ghl_id: str) -> IdMapping | None:
        with self._lock:
            return self._by_ghl.get((location_id, Entity(entity), ghl_id))

    def get_by_rankr(self, location_id: str, entity: Entity, rankr_id: str) -> IdMapping | None:
        with self._lock:
            return self._by_rankr.get((location_id, Entity(entity), rankr_id))

    def put(self, mapping: IdMapping) -> IdMapping:
        gkey = (mapping.location_id, mapping.entity, mapping.ghl_id)
        rkey = (mapping.location_id, mapping.entity, mapping.rankr_id)
        with self._lock:
            by_ghl, by_rankr = self._by_ghl.get(gkey), self._by_rankr.get(rkey)
            if by_ghl is not None and by_ghl.same_pair(mapping):
                return by_ghl
            if by_ghl is not None:
                raise MappingConflict(mapping, by_ghl, Side.GHL)
            if by_rankr is not None:
                raise MappingConflict(mapping, by_rankr, Side.RANKR)
            self._by_ghl[gkey] = mapping
            self._by_rankr[rkey] = mapping
            return mapping

    def delete(self, mapping: IdMapping) -> None:
        with self._lock:
            gkey = (mapping.location_id, mapping.entity, mapping.ghl_id)
            rkey = (mapping.location_id, mapping.entity, mapping.rankr_id)
            if (m := self._by_ghl.get(gkey)) is not None and m.same_pair(mapping):
                del self._by_ghl[gkey]
            if (m := self._by_rankr.get(rkey)) is not None and m.same_pair(mapping):
                del self._by_rankr[rkey]

    def update_attributes(self, mapping: IdMapping) -> bool:
        gkey = (mapping.location_id, mapping.entity, mapping.ghl_id)
        rkey = (mapping.location_id, mapping.entity, mapping.rankr_id)
        with self._lock:
            by_ghl, by_rankr = self._by_ghl.get(gkey), self._by_rankr.get(rkey)
            if (
                by_ghl is None
                or by_rankr is None
                or not (by_ghl.same_pair(mapping) and by_rankr.same_pair(mapping))
            ):
                return False
            self._by_ghl[gkey] = replace(by_ghl, attributes=dict(mapping.attributes))
            self._by_rankr[rkey] = replace(by_rankr, attributes=dict(mapping.attributes))
            return True

    def list_for_location(self, location_id: str, entity: Entity) -> Iterator[IdMapping]:
        with self._lock:
            items = sorted(
                (m for (loc, ent, _), m in self._by_ghl.items() if loc == location_id and ent == entity),
                key=lambda m: m.ghl_id,
            )
        yield from items

    def __len__(self) -> int:
        return len(self._by_ghl)


class InMemoryLedgerStore:
    def __init__(self) -> None:
        self._items: dict[tuple[str, Entity, Side, str], LedgerEntry] = {}
        self._lock = threading.Lock()
        self.puts = 0
        self.round_trips = 0  # calls a DynamoDB adapter would make (a batch counts once)

    def get(self, location_id: str, entity: Entity, side: Side, record_id: str) -> LedgerEntry | None:
        with self._lock:
            self.round_trips += 1
            return self._items.get((location_id, Entity(entity), Side(side), record_id))

    def put(self, entry: LedgerEntry) -> None:
        with self._lock:
            self._items[(entry.location_id, entry.entity, entry.side, entry.record_id)] = entry
            self.puts += 1
            self.round_trips += 1

    def get_many(
        self, location_id: str, entity: Entity, keys: Sequence[tuple[Side, str]]
    ) -> dict[tuple[Side, str], LedgerEntry]:
        with self._lock:
            self.round_trips += 1
            hits = {
                (Side(side), rid): self._items.get((location_id, Entity(entity), Side(side), rid))
                for side, rid in keys
            }
        return {key: entry for key, entry in hits.items() if entry is not None}

    def put_many(self, entries: Sequence[LedgerEntry]) -> None:
        with self._lock:
            for entry in entries:  # not atomic in DynamoDB either; the last entry of a key wins
                self._items[(entry.location_id, entry.entity, entry.side, entry.record_id)] = entry
                self.puts += 1
            self.round_trips += 1 if entries else 0

    def delete(self, location_id: str, entity: Entity, side: Side, record_id: str) -> None:
        with self._lock:
            self._items.pop((location_id, Entity(entity), Side(side), record_id), None)


class InMemoryTombstoneStore:
    def __init__(self, *, default_ttl_s: int = 30 * 86400, clock: Clock = utcnow) -> None:
        self._items: dict[tuple[str, Side, Entity, str], tuple[Tombstone, datetime]] = {}
        self._lock = threading.Lock()
        self.default_ttl_s = default_ttl_s
        self.clock = clock

    def bury(self, tombstone: Tombstone, *, ttl_s: int | None = None) -> None:
        expires = self.clock() + timedelta(seconds=ttl_s if ttl_s is not None else self.default_ttl_s)
        key = (tombstone.location_id, tombstone.side, tombstone.entity, tombstone.record_id)
        with self._lock:
            self._items[key] = (tombstone, expires)

    def get(self, location_id: str, side: Side, entity: Entity, record_id: str) -> Tombstone | None:
        with self._lock:
            hit = self._items.get((location_id, Side(side), Entity(entity), record_id))
        if hit is None or hit[1] <= self.clock():
            return None
        return hit[0]

    def is_tombstoned(self, location_id: str, side: Side, entity: Entity, record_id: str) -> bool:
        return self.get(location_id, side, entity, record_id) is not None


class InMemoryCheckpointStore:
    def __init__(self, *, clock: Clock = utcnow) -> None:
        self._items: dict[tuple[str, str], Checkpoint] = {}
        self._lock = threading.Lock()
        self.clock = clock

    def load(self, location_id: str, name: str) -> Checkpoint | None:
        with self._lock:
            return self._items.get((location_id, name))

    def load_many(self, location_ids: Sequence[str], name: str) -> dict[str, Checkpoint]:
        with self._lock:
            found = {location: self._items.get((location, name)) for location in location_ids}
        return {location: saved for location, saved in found.items() if saved is not None}

    def save(
        self, location_id: str, name: str, value: Mapping[str, Any], *, expected_version: int | None = None
    ) -> Checkpoint:
        with self._lock:
            current = self._items.get((location_id, name))
            current_version = current.version if current else 0
            if expected_version is not None and expected_version != current_version:
                raise CheckpointConflict(
                    f"checkpoint {name} of {location_id} is at version {current_version}, "
                    f"expected {expected_version}"
                )
            saved = Checkpoint(location_id, name, dict(value), current_version + 1, self.clock())
            self._items[(location_id, name)] = saved
            return saved

    def delete(self, location_id: str, name: str) -> None:
        with self._lock:
            self._items.pop((location_id, name), None)


class InMemoryDedupeStore:
    def __init__(self, *, clock: Clock = utcnow) -> None:
        self._claims: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self.clock = clock

    def claim_once(self, key: str, ttl_s: int) -> bool:
        now = self.clock()
        with self._lock:
            expires = self._claims.get(key)
            if expires is not None and expires > now:
                return False
            self._claims[key] = now + timedelta(seconds=ttl_s)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._claims.pop(key, None)


class InMemoryLeadClaimStore:
    """Lead claims: one per (location, identity), last claim wins, expired claims count as absent."""

    def __init__(self, *, clock: Clock = utcnow) -> None:
        self._claims: dict[tuple[str, str], tuple[LeadClaim, datetime]] = {}
        self._lock = threading.Lock()
        self.clock = clock
        self.finds = 0

    def claim(self, location_id: str, identities: Sequence[str], lead_id: str, ttl_s: int) -> None:
        now = self.clock()
        with self._lock:
            for identity in identities:
                claim = LeadClaim(location_id, identity, lead_id, now)
                self._claims[(location_id, identity)] = (claim, now + timedelta(seconds=ttl_s))

    def find(self, location_id: str, identities: Sequence[str]) -> list[LeadClaim]:
        now = self.clock()
        with self._lock:
            self.finds += 1
            hits = [self._claims.get((location_id, identity)) for identity in dict.fromkeys(identities)]
        return [hit[0] for hit in hits if hit is not None and hit[1] > now]

    def release(self, location_id: str, identities: Sequence[str], lead_id: str) -> None:
        with self._lock:
            for identity in identities:
                hit = self._claims.get((location_id, identity))
                if hit is not None and hit[0].lead_id == lead_id:
                    del self._claims[(location_id, identity)]


class InMemoryAuditLog:
    def __init__(self, *, retention_days: int = 30, clock: Clock = utcnow) -> None:
        self.entries: list[AuditEntry] = []
        self._lock = threading.Lock()
        self.retention = timedelta(days=retention_days)
        self.clock = clock

    def record(self, entry: AuditEntry) -> None:
        if entry.error:
            entry = replace(entry, error=redact_text(entry.error)[:1000])
        with self._lock:
            self.entries.append(entry)

    def query_location(
        self,
        location_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        entity: Entity | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        horizon = self.clock() - self.retention
        with self._lock:
            found = [
                e
                for e in self.entries
                if e.location_id == location_id
                and e.at > horizon
                and (entity is None or e.entity == entity)
                and (since is None or e.at >= since)
                and (until is None or e.at <= until)
            ]
        found.sort(key=lambda e: (e.at, e.entry_id), reverse=True)
        return found[:limit]

    def by_action(self, action: str) -> list[AuditEntry]:
        with self._lock:
            return [e for e in self.entries if e.action == action]


class InMemoryMappingConfigSource:
    """Per-location / per-account mapping documents (the SyncStateTable `MAPPING#...` items)."""

    def __init__(self) -> None:
        self.by_location: dict[str, dict[str, Any]] = {}
        self.by_account: dict[str, dict[str, Any]] = {}
        self.reads = 0

    def get_mapping_document(self, location_id: str, account_id: str | None = None) -> dict[str, Any] | None:
        self.reads += 1
        if location_id in self.by_location:
            return self.by_location[location_id]
        if account_id is not None and account_id in self.by_account:
            return self.by_account[account_id]
        return None


class InMemoryLeadPushStore:
    """`LeadPushStore` over the in-memory stores: all or nothing, like DynamoDB's transaction."""

    def __init__(
        self, mappings: InMemoryMappingStore, ledger: InMemoryLedgerStore, claims: InMemoryLeadClaimStore
    ) -> None:
        self._mappings, self._ledger, self._claims = mappings, ledger, claims
        self.settled = 0
        self.refused = 0

    def claim_unless_mapped(
        self, location_id: str, lead_id: str, identities: Sequence[str], ttl_s: int
    ) -> LeadClaimResult:
        with self._mappings._lock:
            mapping = self._mappings._by_rankr.get((location_id, Entity.CONTACT, lead_id))
            if mapping is not None:
                return LeadClaimResult(claimed=False, mapping=mapping)
            self._claims.claim(location_id, identities, lead_id, ttl_s)
        return LeadClaimResult(claimed=True)

    def settle_lead(
        self,
        location_id: str,
        lead_id: str,
        *,
        mapping: IdMapping | None,
        ledger: Sequence[LedgerEntry],
        release_identities: Sequence[str],
        attributes_of: IdMapping | None = None,
    ) -> bool:
        maps, claims = self._mappings, self._claims
        with maps._lock, claims._lock, self._ledger._lock:
            releasing = list(dict.fromkeys(release_identities))
            holds = all(
                (hit := claims._claims.get((location_id, identity))) is not None and hit[0].lead_id == lead_id
                for identity in releasing
            )  # an expired claim still sits in DynamoDB until TTL removes it: it holds here too
            if mapping is not None:
                gkey = (mapping.location_id, mapping.entity, mapping.ghl_id)
                rkey = (mapping.location_id, mapping.entity, mapping.rankr_id)
                holds = holds and gkey not in maps._by_ghl and rkey not in maps._by_rankr
            if attributes_of is not None:
                a = attributes_of
                by_rankr = maps._by_rankr.get((a.location_id, a.entity, a.rankr_id))
                by_ghl = maps._by_ghl.get((a.location_id, a.entity, a.ghl_id))
                holds = holds and by_rankr is not None and by_rankr.ghl_id == a.ghl_id
                holds = holds and by_ghl is not None and by_ghl.rankr_id == a.rankr_id
            if not holds:
                self.refused += 1
                return False
            if mapping is not None:
                maps._by_ghl[gkey] = mapping
                maps._by_rankr[rkey] = mapping
            if attributes_of is not None and by_rankr is not None:
                updated = replace(by_rankr, attributes=dict(attributes_of.attributes))
                maps._by_ghl[(a.location_id, a.entity, a.ghl_id)] = updated
                maps._by_rankr[(a.location_id, a.entity, a.rankr_id)] = updated
            for entry in ledger:
                self._ledger._items[(entry.location_id, entry.entity, entry.side, entry.record_id)] = entry
            for identity in releasing:
                del claims._claims[(location_id, identity)]
            self.settled += 1
            return True


class InMemoryMirrorReads:
    """`MirrorReads` over the stores above, as the DynamoDB adapter reads the same items. The mapping
    the worker decides on is read through `get_by_ghl` (tests make that read stale); the hint read
    before the fetch is not."""

    def __init__(
        self,
        mappings: InMemoryMappingStore,
        ledger: InMemoryLedgerStore,
        tombstones: InMemoryTombstoneStore,
        lead_claims: InMemoryLeadClaimStore | None = None,
        mapping_config: Any = None,
    ) -> None:
        """`mapping_config`: where mapping documents are read (None: asked for, they are not read,
        and the worker's resolver reads them itself)."""
        self.mappings, self.ledger, self.tombstones = mappings, ledger, tombstones
        self.lead_claims, self.mapping_config = lead_claims, mapping_config

    def record_state(self, location_id: str, entity: Entity, ghl_id: str) -> RecordState:
        with self.mappings._lock:
            hint = self.mappings._by_ghl.get((location_id, Entity(entity), ghl_id))
        return RecordState(self.tombstones.is_tombstoned(location_id, Side.GHL, entity, ghl_id), hint)

    def mirror_state(
        self,
        location_id: str,
        entity: Entity,
        ghl_id: str,
        *,
        rankr_id: str | None,
        claim_identities: Sequence[str],
        with_mapping_document: bool = False,
        account_id: str | None = None,
    ) -> MirrorState:
        mapping = self.mappings.get_by_ghl(location_id, entity, ghl_id)
        keys = [(Side.GHL, ghl_id), *([(Side.RANKR, rankr_id)] if rankr_id else [])]
        ledgers = self.ledger.get_many(location_id, entity, keys)
        claims = None
        if claim_identities:
            assert self.lead_claims is not None, "claims asked of a worker without a claim store"
            claims = self.lead_claims.find(location_id, claim_identities)
        return MirrorState(
            mapping=mapping,
            ledger_ghl=ledgers.get((Side.GHL, ghl_id)),
            rankr_id=rankr_id,
            ledger_rankr=ledgers.get((Side.RANKR, rankr_id)) if rankr_id else None,
            claims=claims,
            mapping_document_read=with_mapping_document and self.mapping_config is not None,
            mapping_document=(
                self.mapping_config.get_mapping_document(location_id, account_id)
                if with_mapping_document and self.mapping_config is not None
                else None
            ),
        )


class InMemoryLedgerAudit:
    """`LedgerAuditWriter` over a ledger store and an audit log: the ledger entries first (a failure
    raises), then the audit entry (a failure is swallowed), as the DynamoDB adapter behaves."""

    def __init__(self, ledger: Any, audit: Any) -> None:
        self.ledger, self.audit = ledger, audit

    def write(self, entries: Sequence[LedgerEntry], audit: AuditEntry) -> None:
        self.ledger.put_many(entries)
        with contextlib.suppress(Exception):  # best effort, as the adapter's audit write
            self.audit.record(audit)


class InMemorySyncState:
    """Every sync store at once, mirroring `rankr_ghl.aws.sync_state.SyncStateTable`'s attributes."""

    def __init__(self, *, clock: Clock = utcnow) -> None:
        self.mappings = InMemoryMappingStore()
        self.ledger = InMemoryLedgerStore()
        self.tombstones = InMemoryTombstoneStore(clock=clock)
        self.checkpoints = InMemoryCheckpointStore(clock=clock)
        self.dedupe = InMemoryDedupeStore(clock=clock)
        self.lead_claims = InMemoryLeadClaimStore(clock=clock)
        self.lead_push_writes = InMemoryLeadPushStore(self.mappings, self.ledger, self.lead_claims)
        self.mapping_config = InMemoryMappingConfigSource()
        self.mirror_reads = InMemoryMirrorReads(
            self.mappings, self.ledger, self.tombstones, self.lead_claims, self.mapping_config
        )


class FakeRankrIdempotencyKeys:
    """Rankr's Idempotency-Key store, as the sandbox keeps it (docs/rankr-api.yaml), for fake Rankr ports.

    Keys are scoped per account + collection path (method is always POST). The same key with the same body
    replays the record it created; with another body it raises the very error the real client raises for
    the sandbox's 409 (built by `error_for_status` from the same problem document, `resourceId` included).
    """

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str, str], tuple[str, str]] = {}

    @staticmethod
    def _digest(body: Mapping[str, Any]) -> str:
        import json

        return json.dumps(dict(body), sort_keys=True, separators=(",", ":"), default=str)

    def replayed_id(self, account_id: str, collection: str, key: str, body: Mapping[str, Any]) -> str | None:
        """The id the key created (same body), None for a new key; raises `RankrIdempotencyKeyReused`."""
        from rankr_ghl.rankr.errors import error_for_status

        entry = self._keys.get((account_id, collection, key))
        if entry is None:
            return None
        digest, record_id = entry
        if digest != self._digest(body):
            problem = {
                "type": "https://rankr.example/problems/idempotency-key-reused",
                "title": "Conflict",
                "status": 409,
                "detail": "this Idempotency-Key was already used with a different request body",
                "resourceId": record_id,
                "resourceLocation": f"{collection}/{record_id}",
            }
            raise error_for_status(409, problem, method="POST")
        return record_id

    def remember(
        self, account_id: str, collection: str, key: str, body: Mapping[str, Any], record_id: str
    ) -> None:
        self._keys[(account_id, collection, key)] = (self._digest(body), record_id)
