"""The webhook worker's reads of one GHL record's sync state, one round trip each, and its write of a
step's ledger and audit entries together.

Before the GHL fetch the worker needs the record's tombstone; after it, the mapping, both sides'
ledger entries and the lead claims of the fetched identities. Read store by store, an unmapped
contact costs four round trips (each ~10 ms of CPU in a cold container, plus the wait); read
together, two. The mapping read before the fetch is only a hint of the Rankr twin whose ledger entry to
read with the fresh mapping: the decision uses the mapping read after the fetch, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rankr_ghl.sync.ports import AuditEntry, IdMapping, LeadClaim, LedgerEntry
    from rankr_ghl.sync.types import Entity


@dataclass(frozen=True)
class RecordState:
    """What the worker knows of a GHL record before it fetches it: whether it is tombstoned, and its
    mapping at that time (a hint of the Rankr twin whose ledger to read with the fresh mapping)."""

    tombstoned: bool
    mapping: IdMapping | None


@dataclass(frozen=True)
class MirrorState:
    """The sync state the mirror step decides on, read after the GHL fetch: the mapping, the GHL-side
    ledger entry, the Rankr-side entry of `rankr_id` (the twin asked for), the live lead claims
    among the identities asked for (None when none were asked for), and the mapping document."""

    mapping: IdMapping | None
    ledger_ghl: LedgerEntry | None
    rankr_id: str | None
    ledger_rankr: LedgerEntry | None
    claims: list[LeadClaim] | None
    # The location's field-mapping document (`MappingConfigSource.get_mapping_document`'s answer),
    # when it was asked for: what a cold `MappingResolver` would otherwise read apart.
    mapping_document_read: bool = False
    mapping_document: dict[str, Any] | None = None


class MirrorReads(Protocol):
    """The worker's reads of one record's sync state, one round trip each."""

    def record_state(self, location_id: str, entity: Entity, ghl_id: str) -> RecordState: ...

    def mirror_state(
        self,
        location_id: str,
        entity: Entity,
        ghl_id: str,
        *,
        rankr_id: str | None,
        claim_identities: Sequence[str],
        with_mapping_document: bool = False,
        account_id: str | None = None,
    ) -> MirrorState:
        """Consistent reads; expired entries count as absent; claims in the order of the identities.
        `with_mapping_document`: read the location's mapping document too (its own, else the
        document of `account_id`), as `MappingConfigSource.get_mapping_document` answers."""
        ...


class LedgerAuditWriter(Protocol):
    """A mirror step's ledger entries and its audit entry, stored together (one round trip)."""

    def write(self, entries: Sequence[LedgerEntry], audit: AuditEntry) -> None:
        """Stores `entries` (raises when they are not stored) and `audit` (best effort: a failed audit
        write is logged, never raised into the step that did the work)."""
        ...
