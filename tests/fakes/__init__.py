"""In-memory fakes for the unit tests (tests/ is on sys.path via tests/conftest.py):

- `sync_state`: the sync stores (`rankr_ghl.sync.ports`), faithful to the DynamoDB adapters;
- `ghl`: `FakeGhlRecords`, the one fake of `rankr_ghl.ports.GhlRecords`;
- `rankr`: `FakeRankrRecords`, the one fake of `rankr_ghl.ports.RankrRecords`;
- `connections`: `AccountConnections`, locations connected to one Rankr account;
- `reconcile_world`: a `Reconciler` over single-location GHL and Rankr record fakes with a clock,
  search ordering and paging variants, and a check that a location has converged.
"""

from fakes.sync_state import (
    FakeRankrIdempotencyKeys,
    InMemoryAuditLog,
    InMemoryCheckpointStore,
    InMemoryDedupeStore,
    InMemoryLeadClaimStore,
    InMemoryLeadPushStore,
    InMemoryLedgerStore,
    InMemoryMappingConfigSource,
    InMemoryMappingStore,
    InMemorySyncState,
    InMemoryTombstoneStore,
)

__all__ = [
    "FakeRankrIdempotencyKeys",
    "InMemoryAuditLog",
    "InMemoryCheckpointStore",
    "InMemoryDedupeStore",
    "InMemoryLeadClaimStore",
    "InMemoryLeadPushStore",
    "InMemoryLedgerStore",
    "InMemoryMappingConfigSource",
    "InMemoryMappingStore",
    "InMemorySyncState",
    "InMemoryTombstoneStore",
]
