"""What a reconcile run works with: both record ports, the sync stores, metrics and settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from rankr_ghl.flows.reconcile.jobs import ReconcileSettings
from rankr_ghl.ports import Counter, GhlRecords, NullCounter, RankrRecords
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import (
    AuditSink,
    CheckpointStore,
    LeadClaimStore,
    LedgerStore,
    MappingStore,
    TombstoneStore,
    utcnow,
)


@dataclass(kw_only=True)
class ReconcileServices:
    ghl: GhlRecords
    rankr: RankrRecords
    mappings: MappingStore
    ledger: LedgerStore
    tombstones: TombstoneStore
    checkpoints: CheckpointStore
    audit: AuditSink
    lead_claims: LeadClaimStore | None = None  # lead pushes in flight: their contacts get no twin
    metrics: Counter = field(default_factory=NullCounter)
    mapping_resolver: MappingResolver = field(default_factory=MappingResolver)
    settings: ReconcileSettings = field(default_factory=ReconcileSettings)
    clock: Callable[[], datetime] = utcnow
