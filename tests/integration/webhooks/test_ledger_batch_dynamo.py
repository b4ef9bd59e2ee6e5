"""Ledger batch reads/writes (`get_many` / `put_many`) on the embedded AWS, and the in-memory fake
agreeing with the DynamoDB adapter on the same operations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fakes import InMemoryLedgerStore
from rankr_ghl.aws.sync_state import DynamoLedgerStore
from rankr_ghl.sync.echo import load_ledgers
from rankr_ghl.sync.ports import LedgerEntry, LedgerStore
from rankr_ghl.sync.types import Entity, Side

pytestmark = pytest.mark.integration


def _entry(location: str, side: Side, record_id: str, digest: str) -> LedgerEntry:
    return LedgerEntry(
        location_id=location,
        entity=Entity.CONTACT,
        side=side,
        record_id=record_id,
        field_digests={"email": f"d-{digest}"},
        digest=digest,
        written_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        origin="observed" if side is Side.GHL else "write",
        correlation_id="corr-1",
    )


@pytest.fixture
def dynamo_ledger(embedded_aws) -> DynamoLedgerStore:
    return DynamoLedgerStore(
        embedded_aws.physical["SyncStateTable"]["Ref"], client=embedded_aws.client("dynamodb")
    )


@pytest.fixture(params=["dynamo", "fake"])
def ledger(request, dynamo_ledger: DynamoLedgerStore) -> LedgerStore:
    return dynamo_ledger if request.param == "dynamo" else InMemoryLedgerStore()


def test_put_many_then_get_many_round_trip_with_last_entry_of_a_key_winning(ledger: LedgerStore) -> None:
    location = f"loc-{uuid.uuid4().hex[:10]}"
    ledger.put_many(
        [
            _entry(location, Side.GHL, "g1", "old"),
            _entry(location, Side.RANKR, "r1", "r"),
            _entry(location, Side.GHL, "g1", "new"),
        ]
    )
    found = ledger.get_many(
        location, Entity.CONTACT, [(Side.GHL, "g1"), (Side.RANKR, "r1"), (Side.GHL, "nope")]
    )
    assert set(found) == {(Side.GHL, "g1"), (Side.RANKR, "r1")}
    assert found[(Side.GHL, "g1")] == _entry(location, Side.GHL, "g1", "new")
    assert found[(Side.RANKR, "r1")] == ledger.get(location, Entity.CONTACT, Side.RANKR, "r1")
    # Same id on both sides stays two entries; another entity is another key.
    assert ledger.get_many(location, Entity.TASK, [(Side.GHL, "g1"), (Side.RANKR, "r1")]) == {}
    assert load_ledgers(ledger, location, Entity.CONTACT, ghl_id="g1", rankr_id="r1") == (
        found[(Side.GHL, "g1")],
        found[(Side.RANKR, "r1")],
    )
    assert load_ledgers(ledger, location, Entity.CONTACT, ghl_id="g1", rankr_id=None)[1] is None
    assert load_ledgers(ledger, location, Entity.CONTACT, ghl_id=None, rankr_id=None) == (None, None)


def test_put_many_beyond_one_dynamodb_batch(ledger: LedgerStore) -> None:
    location = f"loc-{uuid.uuid4().hex[:10]}"
    entries = [_entry(location, Side.GHL, f"g{i}", str(i)) for i in range(30)]
    ledger.put_many(entries)
    found = ledger.get_many(location, Entity.CONTACT, [(Side.GHL, f"g{i}") for i in range(30)])
    assert {key: e.digest for key, e in found.items()} == {(Side.GHL, f"g{i}"): str(i) for i in range(30)}


def test_get_many_treats_expired_entries_as_absent(embedded_aws) -> None:
    # moto never expires TTL items: the adapter must filter them, in batches as in single reads.
    expired = DynamoLedgerStore(
        embedded_aws.physical["SyncStateTable"]["Ref"], client=embedded_aws.client("dynamodb"), ttl_s=-60
    )
    live = DynamoLedgerStore(expired.table_name, client=embedded_aws.client("dynamodb"))
    location = f"loc-{uuid.uuid4().hex[:10]}"
    expired.put_many([_entry(location, Side.GHL, "g1", "a"), _entry(location, Side.RANKR, "r1", "b")])
    live.put(_entry(location, Side.GHL, "g2", "c"))
    found = live.get_many(location, Entity.CONTACT, [(Side.GHL, "g1"), (Side.RANKR, "r1"), (Side.GHL, "g2")])
    assert list(found) == [(Side.GHL, "g2")]
