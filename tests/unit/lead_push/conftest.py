"""Fixtures of the lead-push unit tests: the flow over lead_push_world + real Powertools Idempotency
(on an in-memory persistence layer with DynamoDB's conditional-put semantics)."""

from __future__ import annotations

import pytest
from fakes.ghl import FakeGhlRecords
from lead_push_world import FakeLocations, FakeTimer, InMemoryIdempotencyStore, Records, World, lead_mapping
from rankr_ghl.flows.lead_push import LeadPushService, PushSettings, SyncLeadMapper, powertools_idempotency
from rankr_ghl.sync.mapping_resolver import MappingResolver


@pytest.fixture
def idempotency_store() -> InMemoryIdempotencyStore:
    return InMemoryIdempotencyStore()


@pytest.fixture
def world(idempotency_store: InMemoryIdempotencyStore) -> World:
    ghl = FakeGhlRecords()
    timer = FakeTimer()
    resolver = MappingResolver(default=lead_mapping())
    records = Records(resolver)
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
