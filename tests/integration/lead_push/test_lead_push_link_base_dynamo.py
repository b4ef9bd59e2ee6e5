"""A tagged lead's link and its ledger base on the embedded AWS (SyncStateTable from template.yaml):
one transaction that keeps the claims, the base marked as such until the push settles; step by
step, the base is written before the link, never over another pair's ledger."""

from __future__ import annotations

import uuid

import pytest
from fakes import InMemoryAuditLog
from rankr_ghl.aws.sync_state import SyncStateTable
from rankr_ghl.flows.lead_push import Lead, SyncLeadRecords, parse_lead
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import LEAD_PUSH_ORIGIN, IdMapping, lead_claim_identities, lead_push_settling
from rankr_ghl.sync.types import Entity, Side

pytestmark = pytest.mark.integration

EMAIL = "ada@example.com"
CONTACT = {"id": "g1", "firstName": "Ada", "email": EMAIL}


@pytest.fixture
def tables(embedded_aws) -> SyncStateTable:
    client = embedded_aws.client("dynamodb")
    return SyncStateTable(embedded_aws.physical["SyncStateTable"]["Ref"], client=client)


@pytest.fixture
def location() -> str:
    """A location of its own per test, on the one shared table."""
    return f"loc-{uuid.uuid4().hex[:10]}"


def records_on(tables: SyncStateTable, *, atomic: bool) -> SyncLeadRecords:
    return SyncLeadRecords(
        tables.mappings,
        tables.ledger,
        InMemoryAuditLog(),
        MappingResolver(),
        claims=tables.lead_claims,
        push_store=tables.lead_push_writes if atomic else None,
    )


def lead(lead_id: str = "L1") -> Lead:
    return parse_lead(
        {"leadId": lead_id, "locationId": "loc-x", "firstName": "Ada", "email": EMAIL, "tags": ["Hot"]}
    )


def ledgers(tables: SyncStateTable, location: str, contact_id: str, lead_id: str) -> list[object]:
    found = tables.ledger.get_many(location, Entity.CONTACT, [(Side.GHL, contact_id), (Side.RANKR, lead_id)])
    return [found.get((Side.GHL, contact_id)), found.get((Side.RANKR, lead_id))]


def test_the_link_with_its_base_is_one_transaction_and_the_settle_replaces_the_base(
    tables: SyncStateTable, location: str
) -> None:
    records = records_on(tables, atomic=True)
    identities = lead_claim_identities(email=EMAIL)
    records.claim(location, "L1", identities)

    assert records.settle(
        location, lead(), "g1", CONTACT, release=(), link_matched_by="created", link_base=True
    )

    mapping = tables.mappings.get_by_rankr(location, Entity.CONTACT, "L1")
    assert mapping is not None and (mapping.ghl_id, mapping.attributes["origin"]) == ("g1", LEAD_PUSH_ORIGIN)
    base = ledgers(tables, location, "g1", "L1")
    assert all(entry is not None for entry in base)
    assert lead_push_settling(*base)  # read back as a link base, from get_many and get alike
    single = tables.ledger.get(location, Entity.CONTACT, Side.GHL, "g1")
    assert single is not None and single.link_base
    assert [c.lead_id for c in tables.lead_claims.find(location, identities)] == ["L1"]  # kept

    assert records.settle(location, lead(), "g1", {**CONTACT, "tags": ["hot"]}, release=identities)

    settled = ledgers(tables, location, "g1", "L1")
    assert all(entry is not None for entry in settled) and not lead_push_settling(*settled)
    assert tables.lead_claims.find(location, identities) == []


def test_step_by_step_the_base_never_overwrites_another_pairs_ledger(
    tables: SyncStateTable, location: str
) -> None:
    records = records_on(tables, atomic=False)
    records.write_link_base(location, lead(), "g1", CONTACT)  # both unmapped: written
    assert lead_push_settling(*ledgers(tables, location, "g1", "L1"))
    assert all(entry is not None for entry in ledgers(tables, location, "g1", "L1"))

    tables.mappings.put(IdMapping(location, Entity.CONTACT, "g2", "L-other", attributes={}))
    records.write_link_base(location, lead("L2"), "g2", CONTACT)  # the contact is another's
    tables.mappings.put(IdMapping(location, Entity.CONTACT, "g4", "L3", attributes={}))
    records.write_link_base(location, lead("L3"), "g3", CONTACT)  # the lead maps elsewhere

    assert ledgers(tables, location, "g2", "L2") == [None, None]
    assert ledgers(tables, location, "g3", "L3") == [None, None]
