"""`test_transfer` over the reconcile's in-memory world: a dry run writes nothing anywhere, `apply`
syncs that one record in either direction and reports each write (field names, never values)."""

from __future__ import annotations

import json

import pytest
from fakes.reconcile_world import ACCOUNT, LOCATION, World
from rankr_ghl.flows.control.contract import ControlError
from rankr_ghl.flows.control.transfers import transfer_one
from rankr_ghl.sync.types import Entity


def state(world: World) -> str:
    """Everything a transfer could write: both systems and every sync store."""
    return json.dumps(
        [
            world.ghl.contacts_by_id(),
            world.ghl.notes,
            world.ghl.tasks,
            world.rankr.contacts,
            sorted(map(repr, world.mappings._by_ghl.items())),
            sorted(map(repr, world.ledger._items.items())),
            sorted(map(repr, world.tombstones._items.items())),
            sorted(map(repr, world.checkpoints._items.items())),
            len(world.audit.entries),
        ],
        sort_keys=True,
        default=str,
    )


def run(world: World, direction: str, record_id: str, *, apply: bool) -> dict:
    return transfer_one(
        world.reconciler,
        location_id=LOCATION,
        account_id=ACCOUNT,
        direction=direction,  # type: ignore[arg-type]
        record_id=record_id,
        apply=apply,
    )


@pytest.mark.parametrize("direction", ["ghl_to_rankr", "rankr_to_ghl"])
def test_without_apply_nothing_is_written(direction: str) -> None:
    world = World()
    ghl = world.ghl.seed_contact(firstName="Gina", email="gina@example.com")
    rankr = world.rankr.seed_contact(firstName="Rob", email="rob@example.com")
    g_id, r_id = world.mirrored_pair(3)
    world.ghl.edit_contact(g_id, firstName="Changed")
    before, writes_before = state(world), (world.ghl.writes, world.rankr.write_calls)
    for record in [ghl["id"], g_id] if direction == "ghl_to_rankr" else [rankr["id"], r_id]:
        result = run(world, direction, record, apply=False)
        assert result["dryRun"] is True and result["writes"] == []
        assert sum(result["differences"].values()) == 1, result  # it found what it would do
    assert state(world) == before and (world.ghl.writes, world.rankr.write_calls) == writes_before


def test_apply_ghl_to_rankr_creates_the_contact_and_reports_the_write() -> None:
    world = World()
    ghl = world.ghl.seed_contact(firstName="Gina", email="gina@example.com")
    result = run(world, "ghl_to_rankr", ghl["id"], apply=True)
    assert result["dryRun"] is False
    creates = [w for w in result["writes"] if w["system"] == "rankr" and w["call"] == "create"]
    assert len(creates) == 1 and creates[0]["entity"] == "contact"
    assert "email" in creates[0]["fields"] and "gina@example.com" not in json.dumps(result)
    link = world.mappings.get_by_ghl(LOCATION, Entity.CONTACT, ghl["id"])
    assert link is not None and link.rankr_id == creates[0]["recordId"]
    assert world.rankr.contacts[link.rankr_id]["email"] == "gina@example.com"
    assert any(e.correlation_id == result["runId"] for e in world.audit.entries)


def test_apply_rankr_to_ghl_updates_the_mapped_contact() -> None:
    world = World()
    g_id, r_id = world.mirrored_pair(4)
    world.rankr.edit_contact(r_id, firstName="Renamed")
    result = run(world, "rankr_to_ghl", r_id, apply=True)
    calls = [(w["system"], w["call"], w["recordId"]) for w in result["writes"]]
    assert ("ghl", "update_contact", g_id) in calls
    assert world.ghl.contacts_by_id()[g_id]["firstName"] == "Renamed"
    assert sum(result["repaired"].values()) == 1


def test_unknown_records_are_not_found_and_write_nothing() -> None:
    world = World()
    before = state(world)
    for direction in ("ghl_to_rankr", "rankr_to_ghl"):
        with pytest.raises(ControlError) as refused:
            run(world, direction, "nope", apply=True)
        assert refused.value.code == "not_found"
    assert state(world) == before


def test_apply_reports_a_write_by_the_record_it_changed() -> None:
    """A Rankr delete reaches GHL as the mapping's deleted tag: the write names the GHL contact."""
    world = World()
    g_id, r_id = world.mirrored_pair(5)
    world.rankr.delete(ACCOUNT, Entity.CONTACT, r_id, None)
    result = run(world, "rankr_to_ghl", r_id, apply=True)
    assert [(w["system"], w["call"], w["recordId"], w["fields"]) for w in result["writes"]] == [
        ("ghl", "add_tags", g_id, ["tags"])
    ]
    tag = world.reconciler.mapping_resolver.for_location(LOCATION, ACCOUNT).contact.deleted_tag
    assert tag.lower() in world.ghl.contacts_by_id()[g_id]["tags"]


def test_apply_reports_a_delete_by_the_record_it_deleted() -> None:
    """GHL lost the contact: the Rankr twin is deleted, and the write names it (not its entity)."""
    world = World()
    g_id, r_id = world.mirrored_pair(6)
    del world.ghl.contacts_by_id()[g_id]
    result = run(world, "rankr_to_ghl", r_id, apply=True)
    calls = [(w["system"], w["call"], w["entity"], w["recordId"]) for w in result["writes"]]
    assert ("rankr", "delete", "contact", r_id) in calls, calls
