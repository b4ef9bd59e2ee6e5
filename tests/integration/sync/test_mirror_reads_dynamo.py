"""`DynamoMirrorReads` on the embedded DynamoDB: what its two reads return equals what the stores'
own reads return, item for item (mapping, both ledger entries, tombstone, live claims in order),
with expired items absent, in one round trip each."""

from __future__ import annotations

from typing import Any

import pytest
from counting_client import CountingClient
from rankr_ghl.aws.sync_state import SyncStateTable
from rankr_ghl.sync.ledger_entries import ledger_entry
from rankr_ghl.sync.mapping import default_mapping
from rankr_ghl.sync.ports import LEAD_CLAIM_TTL_S, IdMapping, Tombstone
from rankr_ghl.sync.types import Entity, Side

pytestmark = pytest.mark.integration


@pytest.fixture
def counted(sync_state: SyncStateTable) -> tuple[SyncStateTable, CountingClient]:
    client = CountingClient(sync_state.mappings.client)
    return SyncStateTable(sync_state.table_name, client=client), client  # type: ignore[arg-type]


def _entry(location: str, side: Side, record_id: str, email: str) -> Any:
    return ledger_entry(
        location,
        Entity.CONTACT,
        side,
        record_id,
        canonical={"email": email},
        mapping=default_mapping().contact,
    )


def test_a_mapped_record_reads_as_the_stores_read_it(
    counted: tuple[SyncStateTable, CountingClient], location: str
) -> None:
    state, client = counted
    mapping = IdMapping(
        location, Entity.CONTACT, "g1", "r1", account_id="a", attributes={"matchedBy": "email"}
    )
    state.mappings.put(mapping)
    state.ledger.put_many(
        [_entry(location, Side.GHL, "g1", "a@x.io"), _entry(location, Side.RANKR, "r1", "b@x.io")]
    )
    client.calls.clear()

    before = state.mirror_reads.record_state(location, Entity.CONTACT, "g1")
    after = state.mirror_reads.mirror_state(
        location, Entity.CONTACT, "g1", rankr_id="r1", claim_identities=()
    )

    assert client.calls == {"query": 1, "batch_get_item": 1}
    assert before.tombstoned is False and before.mapping == mapping
    assert after.mapping == state.mappings.get_by_ghl(location, Entity.CONTACT, "g1") == mapping
    assert after.ledger_ghl == state.ledger.get(location, Entity.CONTACT, Side.GHL, "g1") is not None
    assert after.ledger_rankr == state.ledger.get(location, Entity.CONTACT, Side.RANKR, "r1") is not None
    assert after.rankr_id == "r1" and after.claims is None


def test_an_unmapped_record_reads_its_claims_in_order_and_expired_items_count_as_absent(
    counted: tuple[SyncStateTable, CountingClient], location: str
) -> None:
    state, client = counted
    identities = ["tag:rankr-lead:l2", "email:a@x.io", "phone:+15550001", "email:nobody@x.io"]
    state.lead_claims.claim(location, identities[1:3], "L1", LEAD_CLAIM_TTL_S)
    state.lead_claims.claim(location, identities[:1], "L2", LEAD_CLAIM_TTL_S)
    state.lead_claims.claim(location, ["phone:+15550001"], "L3", -5)  # replaced, and expired
    state.ledger.put(_entry(location, Side.GHL, "g2", "a@x.io"))
    state.tombstones.bury(Tombstone(location, Side.GHL, Entity.CONTACT, "g2"), ttl_s=-1)  # expired
    state.tombstones.bury(Tombstone(location, Side.GHL, Entity.CONTACT, "g3"))
    client.calls.clear()

    before = state.mirror_reads.record_state(location, Entity.CONTACT, "g2")
    after = state.mirror_reads.mirror_state(
        location, Entity.CONTACT, "g2", rankr_id=None, claim_identities=identities
    )

    assert client.calls == {"query": 1, "batch_get_item": 1}
    assert before.tombstoned is False and before.mapping is None
    assert state.mirror_reads.record_state(location, Entity.CONTACT, "g3").tombstoned is True
    assert after.mapping is None and after.ledger_rankr is None and after.rankr_id is None
    assert after.ledger_ghl == state.ledger.get(location, Entity.CONTACT, Side.GHL, "g2") is not None
    assert after.claims == state.lead_claims.find(location, identities)
    assert [(c.identity, c.lead_id) for c in after.claims or []] == [
        ("tag:rankr-lead:l2", "L2"),
        ("email:a@x.io", "L1"),
    ]


def test_nothing_stored_reads_as_nothing(sync_state: SyncStateTable, location: str) -> None:
    before = sync_state.mirror_reads.record_state(location, Entity.NOTE, "n1")
    after = sync_state.mirror_reads.mirror_state(
        location, Entity.NOTE, "n1", rankr_id="rn1", claim_identities=["child:note:c1:abc"]
    )
    assert (before.tombstoned, before.mapping) == (False, None)
    assert (after.mapping, after.ledger_ghl, after.ledger_rankr, after.claims) == (None, None, None, [])


def test_the_mapping_document_read_with_the_state_is_the_one_the_source_gives(
    counted: tuple[SyncStateTable, CountingClient], location: str
) -> None:
    state, client = counted
    account, other = f"acct-{location}", f"acct-other-{location}"
    state.mapping_config.put_mapping_document({"version": 1, "from": "account"}, account_id=account)
    state.mapping_config.put_mapping_document(
        {"version": 1, "from": "location"}, location_id=f"{location}-own"
    )
    documents = []
    for where, acct in (
        (location, account),
        (f"{location}-own", account),
        (location, other),
        (location, None),
    ):
        client.calls.clear()
        read = state.mirror_reads.mirror_state(
            where,
            Entity.CONTACT,
            "g1",
            rankr_id=None,
            claim_identities=(),
            with_mapping_document=True,
            account_id=acct,
        )
        assert client.calls == {"batch_get_item": 1}
        assert read.mapping_document_read is True
        assert read.mapping_document == state.mapping_config.get_mapping_document(where, acct)
        documents.append((read.mapping_document or {}).get("from"))
    assert documents == ["account", "location", None, None]
    assert (
        state.mirror_reads.mirror_state(
            location, Entity.CONTACT, "g1", rankr_id=None, claim_identities=(), account_id=account
        ).mapping_document_read
        is False
    )
