"""The lead-push unit tests' world: the flow over `fakes.ghl.FakeGhlRecords`, the real SyncLeadRecords
on the in-memory sync stores, a location resolver and Powertools Idempotency on an in-memory
persistence layer with DynamoDB's conditional-put semantics."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from fakes import (
    InMemoryAuditLog,
    InMemoryLeadClaimStore,
    InMemoryLeadPushStore,
    InMemoryLedgerStore,
    InMemoryMappingStore,
)
from fakes.ghl import LOCATION, OTHER_LOCATION, FakeGhlRecords
from rankr_ghl.flows.lead_push import (
    ErrorCode,
    Lead,
    LeadPushFailure,
    LeadPushService,
    PushSettings,
    SyncLeadMapper,
    SyncLeadRecords,
    powertools_idempotency,
)
from rankr_ghl.sync.mapping import FieldMapping, default_mapping, load_mapping
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import AuditEntry, IdMapping
from rankr_ghl.sync.types import Entity

__all__ = ["LOCATION", "OTHER_LOCATION", "FakeGhlRecords"]


CUSTOM_FIELDS_MAPPING = [
    {"name": "budget", "ghl_id": "cf_budget", "rankr": "budget"},
    {"name": "industry", "ghl_key": "contact.industry", "rankr": "industry"},
]


def lead_mapping() -> FieldMapping:
    """The built-in mapping plus two custom fields (by GHL id and by GHL key)."""
    document = default_mapping().document.to_json()
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
    """The real SyncLeadRecords over the shared in-memory sync stores, plus test accessors.
    `atomic`: with lead claims and the one-write lead-push store (`push_store`), as deployed."""

    def __init__(self, resolver: MappingResolver, *, atomic: bool = False) -> None:
        self.mappings = FlakyMappingStore()
        self.ledger = InMemoryLedgerStore()
        self.audit_log = InMemoryAuditLog()
        self.push_store: InMemoryLeadPushStore | None = None
        if not atomic:
            self.adapter = SyncLeadRecords(self.mappings, self.ledger, self.audit_log, resolver)
            return
        claims = InMemoryLeadClaimStore()
        self.push_store = InMemoryLeadPushStore(self.mappings, self.ledger, claims)
        self.adapter = SyncLeadRecords(
            self.mappings, self.ledger, self.audit_log, resolver, claims=claims, push_store=self.push_store
        )

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


class FakeTimer:
    """Sleeping advances the monotonic clock at once (polls past a search lag cost no real time)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


@dataclass
class World:
    ghl: FakeGhlRecords
    records: Records
    service: LeadPushService
    config: Any
    resolver: MappingResolver
    timer: FakeTimer = field(default_factory=FakeTimer)


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


def make_world(idempotency_store: InMemoryIdempotencyStore, *, atomic: bool = False) -> World:
    """The flow over a fresh fake GHL and the in-memory stores (`atomic`: see `Records`)."""
    ghl = FakeGhlRecords()
    timer = FakeTimer()
    resolver = MappingResolver(default=lead_mapping())
    records = Records(resolver, atomic=atomic)
    idem = powertools_idempotency(idempotency_store)
    service = LeadPushService(
        ghl=ghl,
        records=records.adapter,
        mapper=SyncLeadMapper(resolver),
        locations=FakeLocations(),
        idempotent=idem.runner,
        in_progress_errors=idem.in_progress_errors,
        settings=PushSettings(workers=4, in_progress_wait_s=5.0),
        sleep=timer.sleep,
        monotonic=timer.monotonic,
    )
    return World(
        ghl=ghl, records=records, service=service, config=idem.config, resolver=resolver, timer=timer
    )
