"""Lead claims and provisional links on the embedded AWS (SyncStateTable from template.yaml)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fakes import InMemoryAuditLog
from rankr_ghl.aws.sync_state import SyncStateTable, claim_pk
from rankr_ghl.flows.lead_push import SyncLeadRecords
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import (
    CLAIM_LINK_ORIGIN,
    LEAD_PUSH_ORIGIN,
    IdMapping,
    LedgerEntry,
    lead_claim_identities,
)
from rankr_ghl.sync.types import Entity, Side

pytestmark = pytest.mark.integration

EMAIL = "email:ada@example.com"
PHONE = "phone:+14155550100"
TAG = "tag:rankr-lead:l1"


@pytest.fixture
def tables(embedded_aws) -> SyncStateTable:
    return SyncStateTable(
        embedded_aws.physical["SyncStateTable"]["Ref"], client=embedded_aws.client("dynamodb")
    )


@pytest.fixture
def location() -> str:
    return f"loc-{uuid.uuid4().hex[:10]}"


def test_claims_are_found_in_order_and_the_newest_claim_of_an_identity_wins(
    tables: SyncStateTable, location: str
) -> None:
    claims = tables.lead_claims
    before = datetime.now(UTC) - timedelta(seconds=1)
    claims.claim(location, [EMAIL, PHONE], "L1", 600)
    found = claims.find(location, [TAG, EMAIL, PHONE])
    assert [(c.identity, c.lead_id) for c in found] == [(EMAIL, "L1"), (PHONE, "L1")]
    assert all(c.location_id == location and c.claimed_at >= before for c in found)
    assert claims.find(f"{location}-other", [EMAIL]) == []  # scoped per location

    claims.claim(location, [PHONE], "L2", 600)  # another lead with the same phone, pushed later
    assert [(c.identity, c.lead_id) for c in claims.find(location, [EMAIL, PHONE])] == [
        (EMAIL, "L1"),
        (PHONE, "L2"),
    ]
    claims.release(location, [EMAIL, PHONE], "L1")  # only what L1 still holds goes
    assert [(c.identity, c.lead_id) for c in claims.find(location, [EMAIL, PHONE])] == [(PHONE, "L2")]
    claims.release(location, [PHONE], "L2")
    claims.release(location, [PHONE], "L2")  # releasing twice is harmless
    assert claims.find(location, [EMAIL, PHONE]) == []


def test_expired_claims_count_as_absent_and_can_be_made_again(tables: SyncStateTable, location: str) -> None:
    tables.lead_claims.claim(location, [EMAIL], "L1", -5)  # moto keeps it: the read path must skip it
    raw = tables.lead_claims.client.get_item(
        TableName=tables.table_name, Key={"pk": {"S": claim_pk(location, EMAIL)}, "sk": {"S": "CLAIM"}}
    )
    assert "Item" in raw
    assert tables.lead_claims.find(location, [EMAIL]) == []
    tables.lead_claims.claim(location, [EMAIL], "L3", 600)
    assert [c.lead_id for c in tables.lead_claims.find(location, [EMAIL])] == ["L3"]


def test_claim_items_hold_no_email_or_phone(tables: SyncStateTable, location: str) -> None:
    identities = lead_claim_identities(email="Ada@Example.com", phone="(415) 555-0100")
    tables.lead_claims.claim(location, identities, "L1", 600)
    for identity in identities:
        item = tables.lead_claims.client.get_item(
            TableName=tables.table_name,
            Key={"pk": {"S": claim_pk(location, identity)}, "sk": {"S": "CLAIM"}},
        )["Item"]
        text = repr(item).lower()
        assert "ada@example.com" not in text and "4155550100" not in text
        assert item["leadId"] == {"S": "L1"}


def test_many_identities_in_one_batch(tables: SyncStateTable, location: str) -> None:
    identities = [f"tag:rankr-lead:l{i}" for i in range(30)]
    tables.lead_claims.claim(location, identities, "L1", 600)
    assert [c.identity for c in tables.lead_claims.find(location, list(reversed(identities)))] == list(
        reversed(identities)
    )


def test_update_attributes_only_while_the_pair_holds(tables: SyncStateTable, location: str) -> None:
    mappings = tables.mappings
    provisional = IdMapping(location, Entity.CONTACT, "g1", "L1", attributes={"origin": CLAIM_LINK_ORIGIN})
    mappings.put(provisional)
    confirmed = IdMapping(location, Entity.CONTACT, "g1", "L1", attributes={"origin": LEAD_PUSH_ORIGIN})
    assert mappings.update_attributes(confirmed)
    for read in (
        mappings.get_by_ghl(location, Entity.CONTACT, "g1"),
        mappings.get_by_rankr(location, Entity.CONTACT, "L1"),
    ):
        assert read is not None and read.attributes == {"origin": LEAD_PUSH_ORIGIN}
    assert not mappings.update_attributes(IdMapping(location, Entity.CONTACT, "g1", "L9"))  # not this pair
    assert not mappings.update_attributes(IdMapping(location, Entity.CONTACT, "g7", "L7"))  # no pair at all
    assert mappings.get_by_rankr(location, Entity.CONTACT, "L9") is None
    assert mappings.get_by_ghl(location, Entity.CONTACT, "g7") is None


def test_lead_push_confirms_or_replaces_a_provisional_link_on_dynamodb(
    tables: SyncStateTable, location: str
) -> None:
    records = SyncLeadRecords(
        tables.mappings, tables.ledger, InMemoryAuditLog(), MappingResolver(), claims=tables.lead_claims
    )
    claimed_at = datetime.now(UTC).isoformat()
    worker_link = {"origin": CLAIM_LINK_ORIGIN, "matchedBy": "claim:email", "claimedAt": claimed_at}
    tables.mappings.put(IdMapping(location, Entity.CONTACT, "g1", "L1", attributes=worker_link))
    link = records.mapped_contact(location, "L1")
    assert link is not None and link.provisional and link.contact_id == "g1"
    assert link.claimed_at == datetime.fromisoformat(claimed_at)

    records.link(location, "L1", "g1", "created")  # the same pair: confirmed
    confirmed = tables.mappings.get_by_ghl(location, Entity.CONTACT, "g1")
    assert confirmed is not None and confirmed.attributes["origin"] == LEAD_PUSH_ORIGIN
    assert records.mapped_contact(location, "L1") == type(link)("g1")

    tables.mappings.put(IdMapping(location, Entity.CONTACT, "g2", "L2", attributes=worker_link))
    records.link(location, "L2", "g3", "phone")  # lead push resolved another contact: it replaces
    assert tables.mappings.get_by_ghl(location, Entity.CONTACT, "g2") is None
    replaced = tables.mappings.get_by_rankr(location, Entity.CONTACT, "L2")
    assert replaced is not None and (replaced.ghl_id, replaced.attributes["origin"]) == (
        "g3",
        LEAD_PUSH_ORIGIN,
    )

    records.claim(location, "L1", [EMAIL])
    assert [c.lead_id for c in tables.lead_claims.find(location, [EMAIL])] == ["L1"]
    records.release_claims(location, "L1", [EMAIL])
    assert tables.lead_claims.find(location, [EMAIL]) == []


def _ledger(location: str, side: Side, record_id: str) -> LedgerEntry:
    return LedgerEntry(
        location_id=location,
        entity=Entity.CONTACT,
        side=side,
        record_id=record_id,
        field_digests={"email": "d1", "firstName": "d2"},
        digest="d",
        written_at=datetime.now(UTC),
    )


def test_settling_a_lead_is_one_transaction_that_writes_all_or_nothing(
    tables: SyncStateTable, location: str
) -> None:
    writer = tables.lead_push_writes
    ledger = [_ledger(location, Side.GHL, "g1"), _ledger(location, Side.RANKR, "L1")]
    pair = IdMapping(location, Entity.CONTACT, "g1", "L1", attributes={"origin": LEAD_PUSH_ORIGIN})

    # Another lead's newer claim on the phone: refused, and nothing at all written.
    tables.lead_claims.claim(location, [EMAIL], "L1", 600)
    tables.lead_claims.claim(location, [PHONE], "L2", 600)
    assert not writer.settle_lead(
        location, "L1", mapping=pair, ledger=ledger, release_identities=[EMAIL, PHONE]
    )
    assert tables.mappings.get_by_ghl(location, Entity.CONTACT, "g1") is None
    assert tables.mappings.get_by_rankr(location, Entity.CONTACT, "L1") is None
    assert tables.ledger.get(location, Entity.CONTACT, Side.GHL, "g1") is None
    assert [c.lead_id for c in tables.lead_claims.find(location, [EMAIL, PHONE])] == ["L1", "L2"]

    # The usual case: mapping (both sides), ledger and the lead's own claims, at once.
    assert writer.settle_lead(location, "L1", mapping=pair, ledger=ledger, release_identities=[EMAIL, EMAIL])
    assert tables.mappings.get_by_rankr(location, Entity.CONTACT, "L1") == tables.mappings.get_by_ghl(
        location, Entity.CONTACT, "g1"
    )
    stored = tables.ledger.get(location, Entity.CONTACT, Side.RANKR, "L1")
    assert stored is not None and dict(stored.field_digests) == {"email": "d1", "firstName": "d2"}
    assert [c.lead_id for c in tables.lead_claims.find(location, [EMAIL, PHONE])] == ["L2"]

    # Mapped already (a retry, or the worker's link): refused; then ledger and release alone pass.
    tables.lead_claims.claim(location, [EMAIL], "L1", 600)
    assert not writer.settle_lead(location, "L1", mapping=pair, ledger=ledger, release_identities=[EMAIL])
    assert writer.settle_lead(location, "L1", mapping=None, ledger=ledger, release_identities=[EMAIL])
    assert tables.lead_claims.find(location, [EMAIL]) == []
    assert writer.settle_lead(location, "L1", mapping=None, ledger=[], release_identities=[])  # nothing to do


def test_settling_a_mapped_lead_sets_its_attributes_in_the_same_transaction(
    tables: SyncStateTable, location: str
) -> None:
    """The end of a push whose lead was linked before its tags, note and task: ledger, claims and the
    mapping's attributes (children done) in one write; refused whole when the pair is not mapped."""
    writer = tables.lead_push_writes
    ledger = [_ledger(location, Side.GHL, "g1"), _ledger(location, Side.RANKR, "L1")]
    pending = IdMapping(
        location, Entity.CONTACT, "g1", "L1", attributes={"origin": LEAD_PUSH_ORIGIN, "children": "pending"}
    )
    done = IdMapping(
        location, Entity.CONTACT, "g1", "L1", attributes={"origin": LEAD_PUSH_ORIGIN, "children": "done"}
    )
    tables.lead_claims.claim(location, [EMAIL], "L1", 600)

    # Not mapped yet: refused, nothing written.
    assert not writer.settle_lead(
        location, "L1", mapping=None, ledger=ledger, release_identities=[EMAIL], attributes_of=done
    )
    assert tables.ledger.get(location, Entity.CONTACT, Side.GHL, "g1") is None
    assert [c.lead_id for c in tables.lead_claims.find(location, [EMAIL])] == ["L1"]

    tables.mappings.put(pending)
    assert writer.settle_lead(
        location, "L1", mapping=None, ledger=ledger, release_identities=[EMAIL], attributes_of=done
    )
    for stored in (
        tables.mappings.get_by_rankr(location, Entity.CONTACT, "L1"),
        tables.mappings.get_by_ghl(location, Entity.CONTACT, "g1"),
    ):
        assert stored is not None and stored.attributes["children"] == "done"
    assert tables.ledger.get(location, Entity.CONTACT, Side.GHL, "g1") is not None
    assert tables.lead_claims.find(location, [EMAIL]) == []

    # The lead re-mapped to another contact meanwhile: refused, the other pair untouched.
    other = IdMapping(location, Entity.CONTACT, "g2", "L1", attributes={"children": "done"})
    assert not writer.settle_lead(
        location, "L1", mapping=None, ledger=[], release_identities=[], attributes_of=other
    )


def test_claiming_unless_mapped_is_one_write_that_returns_the_existing_mapping(
    tables: SyncStateTable, location: str
) -> None:
    store = tables.lead_push_writes
    assert store.claim_unless_mapped(location, "L1", [EMAIL, PHONE, EMAIL], 600).claimed
    assert [(c.identity, c.lead_id) for c in tables.lead_claims.find(location, [EMAIL, PHONE])] == [
        (EMAIL, "L1"),
        (PHONE, "L1"),
    ]
    pair = IdMapping(location, Entity.CONTACT, "g1", "L2", attributes={"origin": CLAIM_LINK_ORIGIN})
    tables.mappings.put(pair)
    result = store.claim_unless_mapped(location, "L2", [EMAIL], 600)
    assert not result.claimed and result.mapping is not None
    assert (result.mapping.ghl_id, result.mapping.rankr_id) == ("g1", "L2")
    assert result.mapping.attributes == {"origin": CLAIM_LINK_ORIGIN}
    assert [c.lead_id for c in tables.lead_claims.find(location, [EMAIL])] == ["L1"]  # nothing claimed
