"""What the sync ledger already proves about a record, so the incremental pass can skip a GHL read.

The webhook worker, lead push and reconcile store a ledger entry per side after every sync: the digest
of the state the connector wrote there (`write`) or read there and synced from (`observed`). A record
whose current state is that digest holds nothing the connector has not already carried over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rankr_ghl.sync import diff
from rankr_ghl.sync.mapping import EntityMapping
from rankr_ghl.sync.ports import IdMapping, LedgerEntry, LedgerStore
from rankr_ghl.sync.types import Entity, Side

# DynamoDB BatchGetItem takes at most 100 keys: two ledger entries per pair.
LEDGER_BATCH_PAIRS = 50


def pair_ledgers(
    ledger: LedgerStore, location_id: str, entity: Entity, links: Sequence[IdMapping]
) -> dict[tuple[Side, str], LedgerEntry]:
    """Both sides' ledger entries of every pair in `links`, read in batches of 50 pairs."""
    found: dict[tuple[Side, str], LedgerEntry] = {}
    for start in range(0, len(links), LEDGER_BATCH_PAIRS):
        keys = [
            key
            for link in links[start : start + LEDGER_BATCH_PAIRS]
            for key in ((Side.GHL, link.ghl_id), (Side.RANKR, link.rankr_id))
        ]
        found.update(ledger.get_many(location_id, entity, keys))
    return found


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
    link: IdMapping,
    ledgers: Mapping[tuple[Side, str], LedgerEntry],
) -> bool:
    """True when a changed Rankr record (a contact or a note) carries nothing to GHL: its state is the
    one the connector last synced (a webhook the worker applied, our own write, a lead push), and at
    that sync both sides agreed. A later GHL edit is GHL's own change, which GHL's side of the pass
    finds (the search by `dateUpdated`, or the notes pass)."""
    rankr_entry = ledgers.get((Side.RANKR, link.rankr_id))
    return matches_ledger(
        entity_mapping, Side.RANKR, entity_mapping.from_rankr(rankr_record), rankr_entry
    ) and sides_agreed(ledgers.get((Side.GHL, link.ghl_id)), rankr_entry, common)
