"""`rankr-ghl test-transfer`: what one GHL contact would become in Rankr. Reads only, writes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rankr_ghl.flows.reconcile.record_values import common_fields, is_deleted
from rankr_ghl.ports import GhlRecords, RankrRecords
from rankr_ghl.sync import diff
from rankr_ghl.sync.echo import Action, decide, load_ledgers, reconcile_pair
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import LedgerStore, MappingStore
from rankr_ghl.sync.types import Entity, Side


@dataclass(frozen=True)
class TransferPreview:
    ghl_contact_id: str
    rankr_contact_id: str | None  # the mapped Rankr contact, when there is one
    would: str  # "create", "update", "nothing" or "skip (<reason>)"
    rankr_body: dict[str, Any]  # the Rankr create/PATCH body the mapping produces
    differences: list[dict[str, Any]]  # {field, ghl, rankr, winner} for fields that differ now
    found: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "ghlContactId": self.ghl_contact_id,
            "rankrContactId": self.rankr_contact_id,
            "found": self.found,
            "would": self.would,
            "rankrBody": self.rankr_body,
            "differences": self.differences,
        }


def preview_transfer(
    *,
    ghl: GhlRecords,
    rankr: RankrRecords,
    mappings: MappingStore,
    ledger: LedgerStore,
    mapping_resolver: MappingResolver,
    location_id: str,
    account_id: str,
    contact_id: str,
) -> TransferPreview:
    """Map one GHL contact and compare it with the Rankr record that exists now (reads only)."""
    record = ghl.get_contact(location_id, contact_id)
    if record is None:
        return TransferPreview(contact_id, None, "skip (not found in GHL)", {}, [], found=False)
    contact_mapping = mapping_resolver.for_location(location_id, account_id).contact
    ghl_values = contact_mapping.from_ghl(record)
    link = mappings.get_by_ghl(location_id, Entity.CONTACT, contact_id)
    twin = rankr.get(account_id, Entity.CONTACT, link.rankr_id, None) if link else None
    if twin is None or is_deleted(twin):
        decision = decide(
            Side.GHL, ghl_values, None, ledger_current=None, ledger_other=None, mapping=contact_mapping
        )
        would = "create" if decision.action is Action.WRITE else "nothing"
        if link is not None:
            would = "skip (the mapped Rankr contact is deleted)"
        return TransferPreview(
            contact_id, link.rankr_id if link else None, would, contact_mapping.to_rankr(ghl_values), []
        )
    assert link is not None  # a twin was read through the mapping
    rankr_values = contact_mapping.from_rankr(twin)
    ledger_g, ledger_r = load_ledgers(
        ledger, location_id, Entity.CONTACT, ghl_id=contact_id, rankr_id=link.rankr_id
    )
    plan = reconcile_pair(
        ghl_values,
        rankr_values,
        ledger_g,
        ledger_r,
        contact_mapping,
        ghl_ts=contact_mapping.timestamp(Side.GHL, record),
        rankr_ts=contact_mapping.timestamp(Side.RANKR, twin),
    )
    to_rankr = set(plan.to_rankr.fields_changed) if plan.to_rankr.action is Action.WRITE else set()
    to_ghl = set(plan.to_ghl.fields_changed) if plan.to_ghl.action is Action.WRITE else set()
    differences = [
        {
            "field": name,
            "ghl": ghl_values.get(name),
            "rankr": rankr_values.get(name),
            "winner": "ghl" if name in to_rankr else ("rankr" if name in to_ghl else "kept"),
        }
        for name in diff.changed_fields(ghl_values, rankr_values, common_fields(contact_mapping))
    ]
    would = "update" if to_rankr else "nothing"
    return TransferPreview(
        contact_id, link.rankr_id if link else None, would, contact_mapping.to_rankr(ghl_values), differences
    )
