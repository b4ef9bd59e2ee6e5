"""What the sync ledger already proves about a record, so the incremental pass can skip a GHL read.

The webhook worker, lead push and reconcile store a ledger entry per side after every sync: the digest
of the state the connector wrote there (`write`) or read there and synced from (`observed`). A record
whose current state is that digest holds nothing the connector has not already carried over.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rankr_ghl.sync import diff
from rankr_ghl.sync.mapping import EntityMapping
from rankr_ghl.sync.ports import LedgerEntry
from rankr_ghl.sync.types import Side


def matches_ledger(
    entity_mapping: EntityMapping, side: Side, canonical: Mapping[str, Any], entry: LedgerEntry | None
) -> bool:
    """True when `canonical` (one side's current state) is exactly the ledger's state of that record."""
    if entry is None:
        return False
    names = [f.name for f in entity_mapping.fields_on(side)]
    return diff.record_digest(diff.field_digests(canonical, names)) == entry.digest


def sides_agreed(ghl: LedgerEntry | None, rankr: LedgerEntry | None, common: tuple[str, ...]) -> bool:
    """True when the two ledger entries record the same value on every common field: when the
    connector last synced the pair, neither side held anything the other lacked (a field a conflict
    held back, or one GHL cannot take, leaves them different)."""
    if ghl is None or rankr is None:
        return False
    for name in common:
        digest = rankr.field_digests.get(name)
        if digest is None or digest != ghl.field_digests.get(name):
            return False
    return True


def rankr_change_known(
    entity_mapping: EntityMapping,
    common: tuple[str, ...],
    rankr_record: Mapping[str, Any],
    ghl_entry: LedgerEntry | None,
    rankr_entry: LedgerEntry | None,
) -> bool:
    """True when a changed Rankr contact carries nothing to GHL: its state is the one the connector
    last synced (a webhook the worker applied, our own write, a lead push), and at that sync both sides
    agreed. A later GHL edit is GHL's own change, found by the GHL half of the incremental pass."""
    return matches_ledger(
        entity_mapping, Side.RANKR, entity_mapping.from_rankr(rankr_record), rankr_entry
    ) and sides_agreed(ghl_entry, rankr_entry, common)
