from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from rankr_ghl.aws.audit import DynamoAuditLog
from rankr_ghl.aws.sync_state import SyncStateTable, record_pk
from rankr_ghl.sync.ledger_entries import ledger_entry
from rankr_ghl.sync.mapping import default_mapping
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import (
    AuditAction,
    AuditEntry,
    AuditOutcome,
    CheckpointConflict,
    IdMapping,
    MappingConflict,
    Tombstone,
)
from rankr_ghl.sync.types import Entity, Side

pytestmark = pytest.mark.integration


def test_mapping_lookup_both_ways_and_listing(sync_state: SyncStateTable, location: str) -> None:
    m = IdMapping(location, Entity.CONTACT, "g1", "r1", attributes={"matchedBy": "email"})
    assert sync_state.mappings.put(m) == m
    assert sync_state.mappings.get_by_ghl(location, Entity.CONTACT, "g1") == m
    assert sync_state.mappings.get_by_rankr(location, Entity.CONTACT, "r1") == m
    assert sync_state.mappings.get_by_ghl(location, Entity.TASK, "g1") is None
    assert sync_state.mappings.put(IdMapping(location, Entity.CONTACT, "g1", "r1")).created_at == m.created_at
    with pytest.raises(MappingConflict) as err:
        sync_state.mappings.put(IdMapping(location, Entity.CONTACT, "g1", "r2"))
    assert err.value.side is Side.GHL and err.value.existing == m
    with pytest.raises(MappingConflict) as err:
        sync_state.mappings.put(IdMapping(location, Entity.CONTACT, "g2", "r1"))
    assert err.value.side is Side.RANKR
    # the failed transactions left nothing behind
    assert sync_state.mappings.get_by_ghl(location, Entity.CONTACT, "g2") is None
    assert sync_state.mappings.get_by_rankr(location, Entity.CONTACT, "r2") is None
    task = IdMapping(location, Entity.TASK, "gt", "rt", ghl_parent_id="g1", rankr_parent_id="r1")
    sync_state.mappings.put(task)
    for i in range(3, 8):
        sync_state.mappings.put(IdMapping(location, Entity.CONTACT, f"g{i}", f"r{i}"))
    listed = list(sync_state.mappings.list_for_location(location, Entity.CONTACT))
    assert sorted(x.ghl_id for x in listed) == ["g1", "g3", "g4", "g5", "g6", "g7"]
    assert list(sync_state.mappings.list_for_location(location, Entity.TASK)) == [task]
    sync_state.mappings.delete(m)
    assert sync_state.mappings.get_by_ghl(location, Entity.CONTACT, "g1") is None
    assert sync_state.mappings.get_by_rankr(location, Entity.CONTACT, "r1") is None
    sync_state.mappings.put(IdMapping(location, Entity.CONTACT, "g1", "r2"))  # free again


def test_concurrent_writers_exactly_one_mapping_wins(sync_state: SyncStateTable, location: str) -> None:
    start = threading.Barrier(8)

    def claim(i: int) -> str:
        start.wait()
        try:
            sync_state.mappings.put(IdMapping(location, Entity.CONTACT, "g-race", f"r-{i}"))
        except MappingConflict:
            return "lost"
        return f"r-{i}"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(claim, range(8)))
    winners = [r for r in results if r != "lost"]
    assert len(winners) == 1
    stored = sync_state.mappings.get_by_ghl(location, Entity.CONTACT, "g-race")
    assert stored is not None and stored.rankr_id == winners[0]
    for i in range(8):
        owner = sync_state.mappings.get_by_rankr(location, Entity.CONTACT, f"r-{i}")
        assert (owner is not None) == (f"r-{i}" == winners[0])


def test_concurrent_writers_race_for_one_rankr_id(sync_state: SyncStateTable, location: str) -> None:
    start = threading.Barrier(6)

    def claim(i: int) -> bool:
        start.wait()
        try:
            sync_state.mappings.put(IdMapping(location, Entity.CONTACT, f"g-{i}", "r-race"))
        except MappingConflict:
            return False
        return True

    with ThreadPoolExecutor(6) as pool:
        assert sum(pool.map(claim, range(6))) == 1


def test_ledger_roundtrip(sync_state: SyncStateTable, location: str) -> None:
    mapping = default_mapping().contact
    entry = ledger_entry(
        location,
        Entity.CONTACT,
        Side.GHL,
        "g1",
        canonical={"email": "a@b.c"},
        mapping=mapping,
        correlation_id="c1",
    )
    sync_state.ledger.put(entry)
    got = sync_state.ledger.get(location, Entity.CONTACT, Side.GHL, "g1")
    assert got is not None
    assert (got.digest, dict(got.field_digests), got.origin, got.correlation_id) == (
        entry.digest,
        dict(entry.field_digests),
        "write",
        "c1",
    )
    item = sync_state.ledger.client.get_item(
        TableName=sync_state.table_name,
        Key={"pk": {"S": record_pk(location, Entity.CONTACT, Side.GHL, "g1")}, "sk": {"S": "LEDGER"}},
    )["Item"]
    assert "a@b.c" not in str(item)  # digests only
    sync_state.ledger.delete(location, Entity.CONTACT, Side.GHL, "g1")
    assert sync_state.ledger.get(location, Entity.CONTACT, Side.GHL, "g1") is None


def test_tombstones_block_resurrection_and_expire(sync_state: SyncStateTable, location: str) -> None:
    tomb = Tombstone(location, Side.GHL, Entity.CONTACT, "g1", reason="ContactDelete")
    sync_state.tombstones.bury(tomb)
    assert sync_state.tombstones.is_tombstoned(location, Side.GHL, Entity.CONTACT, "g1")
    assert not sync_state.tombstones.is_tombstoned(location, Side.RANKR, Entity.CONTACT, "g1")
    got = sync_state.tombstones.get(location, Side.GHL, Entity.CONTACT, "g1")
    assert got is not None and got.reason == "ContactDelete"
    sync_state.tombstones.bury(Tombstone(location, Side.GHL, Entity.NOTE, "n1"), ttl_s=-1)  # already expired
    assert not sync_state.tombstones.is_tombstoned(location, Side.GHL, Entity.NOTE, "n1")


def test_claim_once(sync_state: SyncStateTable, location: str) -> None:
    key = f"{location}-wh-1"
    with ThreadPoolExecutor(6) as pool:
        assert sum(pool.map(lambda _: sync_state.dedupe.claim_once(key, 60), range(6))) == 1
    assert not sync_state.dedupe.claim_once(key, 60)
    sync_state.dedupe.release(key)
    assert sync_state.dedupe.claim_once(key, 60)
    short = f"{location}-wh-2"
    assert sync_state.dedupe.claim_once(short, 1)
    time.sleep(2.1)  # moto never expires items: an expired marker must count as absent
    assert sync_state.dedupe.claim_once(short, 60)


def test_checkpoints(sync_state: SyncStateTable, location: str) -> None:
    cps = sync_state.checkpoints
    assert cps.load(location, "reconcile") is None
    first = cps.save(location, "reconcile", {"cursor": "abc", "n": 1}, expected_version=0)
    assert first.version == 1
    with pytest.raises(CheckpointConflict):
        cps.save(location, "reconcile", {"cursor": "x"}, expected_version=0)
    assert cps.save(location, "reconcile", {"cursor": "def"}).version == 2
    with pytest.raises(CheckpointConflict):
        cps.save(location, "reconcile", {"cursor": "x"}, expected_version=1)
    loaded = cps.load(location, "reconcile")
    assert loaded is not None and loaded.value == {"cursor": "def"} and loaded.version == 2
    cps.delete(location, "reconcile")
    assert cps.load(location, "reconcile") is None


def test_mapping_documents_per_location_and_account(sync_state: SyncStateTable, location: str) -> None:
    config = sync_state.mapping_config
    resolver = MappingResolver(config, ttl_s=0)
    assert resolver.for_location(location) is default_mapping()
    doc = default_mapping().document.to_json()
    doc["contact"]["fields"] = doc["contact"]["fields"][:2]
    config.put_mapping_document(doc, account_id=f"acct-{location}")
    assert "phone" in resolver.for_location(location, f"acct-{location}").contact.field_names
    assert "company" not in resolver.for_location(location, f"acct-{location}").contact.field_names
    config.put_mapping_document(default_mapping().document.to_json(), location_id=location)
    assert "company" in resolver.for_location(location, f"acct-{location}").contact.field_names
    config.delete_mapping_document(location_id=location)
    assert "company" not in resolver.for_location(location, f"acct-{location}").contact.field_names


def test_audit_entries_and_queries(audit_log: DynamoAuditLog, location: str) -> None:
    now = datetime.now(UTC)
    entries = [
        AuditEntry(
            location,
            Entity.CONTACT,
            AuditAction.CREATE,
            AuditOutcome.SUCCESS,
            "ghl_to_rankr",
            ghl_id="g1",
            rankr_id="r1",
            fields=("email", "phone"),
            correlation_id="c1",
            flow="webhook",
            at=now - timedelta(minutes=30),
        ),
        AuditEntry(
            location,
            Entity.TASK,
            AuditAction.UPDATE,
            AuditOutcome.SUCCESS,
            "rankr_to_ghl",
            ghl_id="t1",
            rankr_id="rt1",
            fields=("title",),
            at=now - timedelta(minutes=20),
        ),
        AuditEntry(
            location,
            Entity.CONTACT,
            AuditAction.SKIP,
            AuditOutcome.SKIPPED,
            "ghl_to_rankr",
            ghl_id="g1",
            reason="echo",
            at=now - timedelta(minutes=10),
        ),
        AuditEntry(
            location,
            Entity.CONTACT,
            AuditAction.FAILURE,
            AuditOutcome.FAILED,
            "rankr_to_ghl",
            rankr_id="r1",
            error="GHL said: duplicate of ann@example.com / +1 555 123 4567",
            at=now,
        ),
    ]
    for e in entries:
        audit_log.record(e)
    got = audit_log.query_location(location)
    assert [e.entry_id for e in got] == [e.entry_id for e in reversed(entries)]  # newest first
    assert got[-1].fields == ("email", "phone") and got[-1].correlation_id == "c1"
    assert "ann@example.com" not in (got[0].error or "") and "555" not in (got[0].error or "")
    contacts = audit_log.query_location(location, entity=Entity.CONTACT)
    assert [e.entity for e in contacts] == [Entity.CONTACT] * 3
    window = audit_log.query_location(
        location, since=now - timedelta(minutes=25), until=now - timedelta(minutes=5)
    )
    assert [e.action for e in window] == [AuditAction.SKIP, AuditAction.UPDATE]
    assert len(audit_log.query_location(location, limit=2)) == 2
    item = audit_log.client.query(
        TableName=audit_log.table_name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": f"LOC#{location}"}},
    )["Items"][0]
    ttl = int(item["expiresAt"]["N"])
    assert abs(ttl - (int(now.timestamp()) - 1800 + 30 * 86400)) < 5  # 30 days after the entry


def test_audit_retention_is_configurable_and_expired_entries_are_hidden(embedded_aws, location: str) -> None:
    log = DynamoAuditLog(
        embedded_aws.physical["AuditTable"]["Ref"], client=embedded_aws.client("dynamodb"), retention_days=1
    )
    old = AuditEntry(
        location,
        Entity.NOTE,
        AuditAction.DELETE,
        AuditOutcome.SUCCESS,
        "ghl_to_rankr",
        at=datetime.now(UTC) - timedelta(days=2),
    )
    fresh = AuditEntry(location, Entity.NOTE, AuditAction.DELETE, AuditOutcome.SUCCESS, "ghl_to_rankr")
    log.record(old)
    log.record(fresh)
    assert [e.entry_id for e in log.query_location(location)] == [fresh.entry_id]
    assert [e.entry_id for e in log.query_location(location, entity=Entity.NOTE)] == [fresh.entry_id]


def test_audit_entries_written_in_batches_read_back_as_written(
    audit_log: DynamoAuditLog, location: str
) -> None:
    now = datetime.now(UTC)
    entries = [
        AuditEntry(
            location,
            Entity.CONTACT,
            AuditAction.CREATE,
            AuditOutcome.SUCCESS,
            "rankr_to_ghl",
            ghl_id=f"g{i}",
            rankr_id=f"L{i}",
            fields=("email",),
            flow="lead_push",
            at=now - timedelta(seconds=60 - i),
        )
        for i in range(60)  # three BatchWriteItem calls of at most 25
    ]
    audit_log.record_many(entries)
    read = audit_log.query_location(location, limit=100)
    assert [e.entry_id for e in read] == [e.entry_id for e in reversed(entries)]
    assert read[0] == entries[-1]


def test_mapping_listing_follows_pages_and_stays_in_its_partition(
    sync_state: SyncStateTable, location: str
) -> None:
    from rankr_ghl.aws.sync_state import mapping_item, to_item

    store = sync_state.mappings
    wanted = [IdMapping(location, Entity.CONTACT, f"g{i:05}", f"r{i}", account_id="a") for i in range(2_105)]
    others = [
        IdMapping(location, Entity.TASK, "gt", "rt", ghl_parent_id="g00001", rankr_parent_id="r1"),
        IdMapping(f"{location}-other", Entity.CONTACT, "g00001", "rx"),
    ]
    requests = [
        {"PutRequest": {"Item": to_item(mapping_item(m, side))}}
        for m in [*wanted, *others]
        for side in (Side.GHL, Side.RANKR)
    ]
    for start in range(0, len(requests), 25):  # seeded in batches: 2,105 puts one by one are slow on moto
        resp = store.client.batch_write_item(RequestItems={store.table_name: requests[start : start + 25]})
        assert not resp.get("UnprocessedItems")
    listed = list(store.list_for_location(location, Entity.CONTACT))  # three pages of up to 1,000
    assert listed == wanted  # in gsi1sk (GHL id) order, every field read back
    assert list(store.list_for_location(location, Entity.TASK)) == [others[0]]


def test_checkpoints_read_in_batches_match_the_single_reads(
    sync_state: SyncStateTable, location: str
) -> None:
    for n in range(3):
        sync_state.checkpoints.save(f"{location}-{n}", "reconcile:state", {"lastSuccessAt": f"t{n}"})
    sync_state.checkpoints.save(f"{location}-0", "reconcile:state", {"lastSuccessAt": "t0-again"})
    sync_state.checkpoints.save(f"{location}-1", "other", {"x": 1})
    wanted = [f"{location}-{n}" for n in range(4)]

    found = sync_state.checkpoints.load_many([*wanted, wanted[0]], "reconcile:state")

    assert sorted(found) == wanted[:3]
    for key, checkpoint in found.items():
        assert checkpoint == sync_state.checkpoints.load(key, "reconcile:state")
    assert found[wanted[0]].version == 2 and found[wanted[0]].value == {"lastSuccessAt": "t0-again"}
