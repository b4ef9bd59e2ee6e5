"""Ledger entries: what the connector last wrote to (or synced from) one side of a record, as the
digests of its canonical fields. Kept apart from the echo decision (`sync.echo`), so a flow that only
records its own writes (lead push) does not load the decision and conflict code."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from rankr_ghl.sync import diff
from rankr_ghl.sync.ports import LedgerEntry, LedgerOrigin, utcnow
from rankr_ghl.sync.types import Canonical, Entity, Side

if TYPE_CHECKING:
    from rankr_ghl.sync.entity_mapping import EntityMapping


def ledger_entry_from_digests(
    *,
    location_id: str,
    entity: Entity,
    side: Side,
    record_id: str,
    digests: Mapping[str, str],
    at: datetime,
    origin: LedgerOrigin,
    correlation_id: str | None,
) -> LedgerEntry:
    return LedgerEntry(
        location_id=location_id,
        entity=entity,
        side=side,
        record_id=record_id,
        field_digests=dict(digests),
        digest=diff.record_digest(digests),
        written_at=at,
        origin=origin,
        correlation_id=correlation_id,
    )


def ledger_entry(
    location_id: str,
    entity: Entity,
    side: Side,
    record_id: str,
    *,
    canonical: Canonical,
    mapping: EntityMapping,
    origin: LedgerOrigin = "write",
    at: datetime | None = None,
    correlation_id: str | None = None,
) -> LedgerEntry:
    """Entry for a record whose canonical state is known, e.g. the response of a create/update."""
    digests = diff.field_digests(canonical, [f.name for f in mapping.fields_on(side)])
    return ledger_entry_from_digests(
        location_id=location_id,
        entity=entity,
        side=side,
        record_id=record_id,
        digests=digests,
        at=at or utcnow(),
        origin=origin,
        correlation_id=correlation_id,
    )
