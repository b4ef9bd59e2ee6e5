"""In-memory fakes for the unit tests (tests/ is on sys.path via tests/conftest.py), one per port:

- `sync_state`: the sync stores (`rankr_ghl.sync.ports`), faithful to the DynamoDB adapters;
- `ghl`: `FakeGhlRecords`, the one fake of `rankr_ghl.ports.GhlRecords` (GHL's search, lag,
  duplicate and tag variants, fault injection), its searches in `ghl_search`;
- `rankr`: `FakeRankrRecords`, the one fake of `rankr_ghl.ports.RankrRecords`;
- `connections`: `FakeConnectionLookup`, the one fake of `rankr_ghl.ports.ConnectionLookup`;
- `metrics`: `CountingMetrics`, the one fake of `rankr_ghl.ports.Counter`;
- `clock`: `WallClock` (the record fakes' default) and `FakeClock`;
- `reconcile_world`: a `Reconciler` over the GHL and Rankr record fakes of one location on one
  `FakeClock`, with builders for mirrored pairs and a check that a location has converged.
"""

from fakes.sync_state import (
    FakeRankrIdempotencyKeys,
    InMemoryAuditLog,
    InMemoryCheckpointStore,
    InMemoryDedupeStore,
    InMemoryLeadClaimStore,
    InMemoryLeadPushStore,
    InMemoryLedgerAudit,
    InMemoryLedgerStore,
    InMemoryMappingConfigSource,
    InMemoryMappingStore,
    InMemoryMirrorReads,
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
    "InMemoryLedgerAudit",
    "InMemoryLedgerStore",
    "InMemoryMappingConfigSource",
    "InMemoryMappingStore",
    "InMemoryMirrorReads",
    "InMemorySyncState",
    "InMemoryTombstoneStore",
]
