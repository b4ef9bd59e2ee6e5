"""A reconcile world: the one GHL and Rankr record fakes (`fakes.ghl`, `fakes.rankr`) on one fake
clock, single-location, the in-memory sync stores and a Reconciler over them, plus builders for mirrored
pairs and a check, from the outside, that a location has converged (network blocked).
"""

from __future__ import annotations

from typing import Any

from rankr_ghl.flows.reconcile.jobs import ReconcileSettings
from rankr_ghl.flows.reconcile.record_values import common_fields
from rankr_ghl.flows.reconcile.run import Reconciler
from rankr_ghl.sync.diff import changed_fields
from rankr_ghl.sync.mapping import default_mapping
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import IdMapping
from rankr_ghl.sync.types import Entity

from fakes.clock import FakeClock
from fakes.ghl import FakeGhlRecords
from fakes.metrics import CountingMetrics
from fakes.rankr import FakeRankrRecords
from fakes.sync_state import (
    InMemoryAuditLog,
    InMemoryCheckpointStore,
    InMemoryLeadClaimStore,
    InMemoryLedgerStore,
    InMemoryMappingStore,
    InMemoryTombstoneStore,
)

__all__ = ["ACCOUNT", "LOCATION", "CountingMetrics", "FakeClock", "World"]

LOCATION = "locRecon1"
ACCOUNT = "acct-1"


class World:
    """Both record fakes, the sync stores and a Reconciler over them."""

    def __init__(self, *, page_size: int = 5, **settings: Any) -> None:
        self.clock = FakeClock()
        self.ghl = FakeGhlRecords(locations=(LOCATION,), clock=self.clock)
        self.rankr = FakeRankrRecords(clock=self.clock)
        self.mappings = InMemoryMappingStore()
        self.ledger = InMemoryLedgerStore()
        self.tombstones = InMemoryTombstoneStore()
        self.checkpoints = InMemoryCheckpointStore()
        self.audit = InMemoryAuditLog()
        self.lead_claims = InMemoryLeadClaimStore()
        self.metrics = CountingMetrics()
        self.settings = ReconcileSettings(page_size=page_size, task_page_size=3, **settings)
        self.reconciler = self.make_reconciler()

    def make_reconciler(
        self, *, ghl: Any = None, rankr: Any = None, mapping_resolver: Any = None
    ) -> Reconciler:
        return Reconciler(
            mapping_resolver=mapping_resolver or MappingResolver(),
            ghl=ghl or self.ghl,
            rankr=rankr or self.rankr,
            mappings=self.mappings,
            ledger=self.ledger,
            tombstones=self.tombstones,
            checkpoints=self.checkpoints,
            audit=self.audit,
            lead_claims=self.lead_claims,
            metrics=self.metrics,
            settings=self.settings,
            clock=self.clock,
        )

    def mirrored_pair(self, n: int) -> tuple[str, str]:
        fields = {
            "firstName": f"First{n}",
            "lastName": f"Last{n}",
            "email": f"p{n}@example.com",
            "tags": ["vip"],
        }
        g = self.ghl.seed_contact(**fields, phone=f"+1555000{n:04d}", source="web")
        r = self.rankr.seed_contact(**fields, phone=f"+1555000{n:04d}", source="web")
        self.mappings.put(IdMapping(LOCATION, Entity.CONTACT, g["id"], r["id"], account_id=ACCOUNT))
        return g["id"], r["id"]

    def mirrored_task(self, ghl_contact: str, rankr_contact: str, title: str) -> tuple[str, str]:
        due = "2025-04-01T10:00:00.000Z"
        g = self.ghl.seed_task(ghl_contact, title=title, body="b", dueDate=due)
        r = self.rankr.seed_task(rankr_contact, title=title, body="b", dueDate=due)
        self.mappings.put(
            IdMapping(
                LOCATION,
                Entity.TASK,
                g["id"],
                r["id"],
                ghl_parent_id=ghl_contact,
                rankr_parent_id=rankr_contact,
            )
        )
        return g["id"], r["id"]

    def remaining_differences(self) -> list[str]:
        """Everything a converged location must not have (checked from the outside, not via the run)."""
        mapping = default_mapping()
        cm, tm = mapping.contact, mapping.for_entity(Entity.TASK)
        problems: list[str] = []
        live_ghl = dict(self.ghl.contacts_by_id())
        live_rankr = {k: v for k, v in self.rankr.contacts.items() if not v.get("deletedAt")}
        mapped_ghl: set[str] = set()
        mapped_rankr: set[str] = set()
        for m in self.mappings.list_for_location(LOCATION, Entity.CONTACT):
            g, r = live_ghl.get(m.ghl_id), live_rankr.get(m.rankr_id)
            mapped_ghl.add(m.ghl_id)
            mapped_rankr.add(m.rankr_id)
            if g is None and r is None:
                continue
            if g is None:
                problems.append(f"orphan mapping {m.ghl_id} (Rankr {m.rankr_id} still live)")
            elif r is None:
                if cm.deleted_tag not in g.get("tags", []):
                    problems.append(f"GHL {m.ghl_id} live and unmarked, Rankr {m.rankr_id} deleted")
            else:
                fields = changed_fields(cm.from_ghl(g), cm.from_rankr(r), common_fields(cm))
                if fields:
                    problems.append(f"pair {m.ghl_id}/{m.rankr_id} differs in {fields}")
        problems += [f"GHL {gid} never mapped" for gid in live_ghl if gid not in mapped_ghl]
        problems += [f"Rankr {rid} never mapped" for rid in live_rankr if rid not in mapped_rankr]
        for m in self.mappings.list_for_location(LOCATION, Entity.TASK):
            g, r = self.ghl.tasks.get(m.ghl_id), self.rankr.tasks.get(m.rankr_id)
            if g is None:
                if r is not None and not r.get("deletedAt"):
                    problems.append(f"task {m.rankr_id} live in Rankr, gone in GHL")
                continue
            if r is None or r.get("deletedAt"):
                continue
            fields = changed_fields(tm.from_ghl(g), tm.from_rankr(r), common_fields(tm))
            if fields:
                problems.append(f"task pair {m.ghl_id}/{m.rankr_id} differs in {fields}")
        mapped_tasks = {m.ghl_id for m in self.mappings.list_for_location(LOCATION, Entity.TASK)}
        for tid, task in self.ghl.tasks.items():
            if tid not in mapped_tasks and task["contactId"] in mapped_ghl:
                problems.append(f"GHL task {tid} never mapped")
        return problems
