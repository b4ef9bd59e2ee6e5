"""Reconcile carrying a Rankr tag replacement to GHL never leaves GHL in a half-way state that the
webhook worker would mirror back to Rankr as a GHL edit (the chaos run's tags conflict)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fakes.ghl import FakeGhlRecords
from fakes.reconcile_world import ACCOUNT, LOCATION, World
from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob
from rankr_ghl.ports import Record
from rankr_ghl.sync.echo import Action, decide, load_ledgers
from rankr_ghl.sync.ledger_entries import ledger_entry
from rankr_ghl.sync.mapping import default_mapping
from rankr_ghl.sync.ports import IdMapping
from rankr_ghl.sync.types import Entity, Side

CM = default_mapping().contact


class WorkerWatchingGhl(FakeGhlRecords):
    """After every GHL contact write, decides as the webhook worker would on the event it triggers
    (GET the contact now, ledger as stored now) and keeps what it would write to Rankr."""

    def __init__(self, world: World) -> None:
        super().__init__(locations=(LOCATION,), clock=world.clock)
        self.world = world
        self.mirrored: list[dict[str, Any]] = []

    def _worker_sees(self, contact_id: str) -> None:
        link = self.world.mappings.get_by_ghl(LOCATION, Entity.CONTACT, contact_id)
        assert link is not None
        ghl_rec, rankr_rec = self.contacts_by_id()[contact_id], self.world.rankr.contacts[link.rankr_id]
        ledger_g, ledger_r = load_ledgers(
            self.world.ledger, LOCATION, Entity.CONTACT, ghl_id=contact_id, rankr_id=link.rankr_id
        )
        decision = decide(
            Side.GHL,
            CM.from_ghl(ghl_rec),
            CM.from_rankr(rankr_rec),
            ledger_current=ledger_g,
            ledger_other=ledger_r,
            mapping=CM,
            current_ts=CM.timestamp(Side.GHL, ghl_rec),
            other_ts=CM.timestamp(Side.RANKR, rankr_rec),
        )
        if decision.action is Action.WRITE:
            self.mirrored.append(dict(decision.payload))

    def update_contact(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record | None:
        updated = super().update_contact(location_id, contact_id, body)
        self._worker_sees(contact_id)
        return updated

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        added = super().add_tags(location_id, contact_id, tags)
        self._worker_sees(contact_id)
        return added

    def remove_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> None:
        super().remove_tags(location_id, contact_id, tags)
        self._worker_sees(contact_id)


def in_sync_pair(world: World, **fields: Any) -> tuple[str, str]:
    """A mapped pair the connector last synced (both ledger baselines stored)."""
    world.ghl.seed_contact(id="Gpair1", **fields)
    ghl_id, rankr_id = "Gpair1", world.rankr.seed_contact(**fields)["id"]
    world.mappings.put(IdMapping(LOCATION, Entity.CONTACT, ghl_id, rankr_id, account_id=ACCOUNT))
    for side, rec_id, canonical in (
        (Side.GHL, ghl_id, CM.from_ghl(world.ghl.contacts_by_id()[ghl_id])),
        (Side.RANKR, rankr_id, CM.from_rankr(world.rankr.contacts[rankr_id])),
    ):
        world.ledger.put(
            ledger_entry(LOCATION, Entity.CONTACT, side, rec_id, canonical=canonical, mapping=CM)
        )
    return ghl_id, rankr_id


def test_rankr_tag_replacement_reaches_ghl_without_a_half_way_state() -> None:
    world = World()
    ghl = WorkerWatchingGhl(world)
    world.ghl = ghl
    world.reconciler = world.make_reconciler(ghl=ghl)
    fields = {"firstName": "Ada", "email": "ada@example.com", "tags": ["chaos", "vip"]}
    ghl_id, rankr_id = in_sync_pair(world, **fields)
    ghl.contacts_by_id()[ghl_id]["tags"].append("rankr-lead:r-ada")  # a lead marker (never mirrored)
    world.rankr.edit_contact(rankr_id, tags=["chaos", "rankr1"])  # the Rankr user's edit

    world.reconciler.run(ReconcileJob(LOCATION, Mode.FULL), account_id=ACCOUNT)

    assert ghl.mirrored == []  # no GHL state the worker saw looked like a GHL edit to copy over
    assert ghl.contacts_by_id()[ghl_id]["tags"] == ["chaos", "rankr-lead:r-ada", "rankr1"]  # marker kept
    assert world.rankr.contacts[rankr_id]["tags"] == ["chaos", "rankr1"]
    assert world.remaining_differences() == []


def test_tag_additions_alone_keep_using_the_tags_endpoint() -> None:
    world = World()
    ghl_id, rankr_id = in_sync_pair(world, firstName="Bo", email="bo@example.com", tags=["chaos"])
    world.rankr.edit_contact(rankr_id, tags=["chaos", "rankr2"])

    world.reconciler.run(ReconcileJob(LOCATION, Mode.FULL), account_id=ACCOUNT)

    assert world.ghl.count("add_tags") == 1
    assert world.ghl.count("update") == 0  # no replace: concurrent GHL tags stay intact
    assert world.ghl.contacts_by_id()[ghl_id]["tags"] == ["chaos", "rankr2"]
