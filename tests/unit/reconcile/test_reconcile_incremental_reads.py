"""Incremental reconcile reads GHL at the cost of what changed: a Rankr change the sync ledger shows the
connector already synced (the last run's own repairs, an update the webhook worker applied) and a pair
deleted on both sides with GHL's delete known cost no GHL read, while a person's edit in Rankr, a new
Rankr note and a Rankr edit a worker write folded in are still read and carried over."""

from __future__ import annotations

from typing import Any

from fakes.ghl import WRITES as GHL_WRITES
from fakes.reconcile_world import ACCOUNT, LOCATION, World
from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob
from rankr_ghl.sync.echo import decide
from rankr_ghl.sync.ledger_entries import ledger_entry
from rankr_ghl.sync.mapping import default_mapping
from rankr_ghl.sync.ports import Tombstone
from rankr_ghl.sync.types import Entity, Side

CONTACT = default_mapping().contact


def run(world: World, mode: Mode = Mode.FULL) -> Any:
    return world.reconciler.run(ReconcileJob(LOCATION, mode), account_id=ACCOUNT)


def converged_world(pairs: int) -> tuple[World, list[tuple[str, str]]]:
    """Mirrored pairs seeded well before the first run's overlap window, then one full run."""
    world = World()
    ids = [world.mirrored_pair(n) for n in range(pairs)]
    world.clock.now = world.clock.now.replace(minute=30)
    assert run(world).report.complete
    return world, ids


def ghl_reads(world: World) -> dict[str, int]:
    return {op: n for op, n in world.ghl.ops().items() if op not in GHL_WRITES}


def worker_applies(world: World, ghl_id: str, rankr_id: str) -> None:
    """What the webhook worker does with a ContactUpdate: the GHL state decided against Rankr's with
    both ledger entries, Rankr written, both entries stored."""
    ghl_values = CONTACT.from_ghl(world.ghl.contacts_by_id()[ghl_id])
    rankr_values = CONTACT.from_rankr(world.rankr.contacts[rankr_id])
    decision = decide(
        Side.GHL,
        ghl_values,
        rankr_values,
        ledger_current=world.ledger.get(LOCATION, Entity.CONTACT, Side.GHL, ghl_id),
        ledger_other=world.ledger.get(LOCATION, Entity.CONTACT, Side.RANKR, rankr_id),
        mapping=CONTACT,
    )
    world.rankr.update(ACCOUNT, Entity.CONTACT, rankr_id, decision.rankr_body(CONTACT), None)
    world.ledger.put_many(
        decision.ledger_entries(
            LOCATION, Entity.CONTACT, change_id=ghl_id, other_id=rankr_id, correlation_id="evt-1"
        )
    )


def test_contacts_the_last_run_wrote_to_rankr_cost_no_ghl_read() -> None:
    world = World()
    ids = [world.mirrored_pair(n) for n in range(6)]
    for n, (ghl_id, _) in enumerate(ids):
        world.ghl.edit_contact(ghl_id, lastName=f"Edited{n}")  # before the window, without webhooks
    world.clock.now = world.clock.now.replace(minute=30)
    full = run(world)
    assert full.report.repaired["contact.drifted"] == 6  # each written to Rankr (updatedAt moves)
    world.ghl.calls.clear()

    outcome = run(world, Mode.INCREMENTAL)

    assert outcome.report.complete and outcome.report.total_differences == 0
    assert outcome.report.scanned["rankr_contacts"] == 6
    assert outcome.report.scanned["rankr_changes_known"] == 6
    # one search page and one task page; no GET and no notes list per contact the full run wrote
    assert ghl_reads(world) == {"search": 1, "search_tasks": 1}
    assert world.remaining_differences() == []


def test_an_update_the_worker_applied_costs_no_ghl_read_while_search_lags() -> None:
    world, ids = converged_world(3)
    ghl_id, rankr_id = ids[0]
    world.ghl.edit_contact(ghl_id, firstName="FromWebhook")
    world.ghl.search_hidden.add(ghl_id)  # not in GHL's search index yet
    worker_applies(world, ghl_id, rankr_id)
    assert world.rankr.contacts[rankr_id]["firstName"] == "FromWebhook"
    world.ghl.calls.clear()

    outcome = run(world, Mode.INCREMENTAL)

    assert outcome.report.complete and outcome.report.total_differences == 0
    assert outcome.report.scanned["rankr_changes_known"] == 1
    assert world.ghl.count("get_contact") == 0 and world.ghl.count("list_notes") == 0
    assert world.remaining_differences() == []


def test_a_person_edit_in_rankr_is_read_once_and_carried_to_ghl() -> None:
    world, ids = converged_world(3)
    ghl_id, rankr_id = ids[1]
    world.rankr.edit_contact(rankr_id, firstName="EditedInRankr")
    world.ghl.calls.clear()

    outcome = run(world, Mode.INCREMENTAL)

    assert outcome.report.complete and outcome.report.repaired["contact.drifted"] == 1
    assert world.ghl.contacts_by_id()[ghl_id]["firstName"] == "EditedInRankr"
    assert world.ghl.count("get_contact") == 1
    # Rankr's notes of the contact are unchanged: GHL's notes list is left to the notes pass
    assert world.ghl.count("list_notes") == 0
    assert world.remaining_differences() == []


def test_a_new_rankr_note_on_a_changed_contact_reaches_ghl() -> None:
    world, ids = converged_world(2)
    ghl_id, rankr_id = ids[0]
    world.rankr.create(ACCOUNT, Entity.NOTE, {"body": "Met at the fair"}, rankr_id, "note-1")
    world.rankr.edit_contact(rankr_id, firstName="Edited")
    world.ghl.calls.clear()

    outcome = run(world, Mode.INCREMENTAL)

    assert outcome.report.complete
    assert world.ghl.count("list_notes") == 1
    assert [n["body"] for n in world.ghl.notes.values() if n["contactId"] == ghl_id] == ["Met at the fair"]


def test_a_changed_known_contact_with_an_edited_rankr_note_lists_ghl_notes() -> None:
    world, ids = converged_world(2)
    ghl_id, rankr_id = ids[0]
    world.ghl.seed_note(ghl_id, body="First call")
    world.ghl.edit_contact(ghl_id, lastName="Noted")  # in the window: the incremental run mirrors the note
    assert run(world, Mode.INCREMENTAL).report.complete
    (note,) = [n for n in world.rankr.notes.values() if n["contactId"] == rankr_id]
    world.clock.now = world.clock.now.replace(minute=45)
    assert run(world, Mode.INCREMENTAL).report.complete  # the window moves past the GHL edit
    world.clock.now = world.clock.now.replace(minute=50)
    world.rankr.update(ACCOUNT, Entity.NOTE, note["id"], {"body": "First call, follow up"}, rankr_id)
    world.rankr.edit_contact(rankr_id, lastName="Noted")  # the contact's updatedAt moves, its state does not
    world.ghl.calls.clear()

    outcome = run(world, Mode.INCREMENTAL)

    assert outcome.report.complete
    assert outcome.report.scanned["rankr_changes_known"] == 1 and world.ghl.count("get_contact") == 0
    assert world.ghl.count("list_notes") == 1
    assert [n["body"] for n in world.ghl.notes.values()] == ["First call, follow up"]


def test_a_rankr_note_the_ledger_saw_the_sides_disagree_on_lists_ghl_notes() -> None:
    """A Rankr note equal to its ledger entry is not enough: when GHL's entry recorded another body
    (a conflict held one side back), the note is compared against GHL's list."""
    world, ids = converged_world(2)
    ghl_id, rankr_id = ids[0]
    ghl_note = world.ghl.seed_note(ghl_id, body="First call")
    world.ghl.edit_contact(ghl_id, lastName="Noted")
    assert run(world, Mode.INCREMENTAL).report.complete  # mirrors the note, with both ledger entries
    world.clock.now = world.clock.now.replace(minute=45)
    assert run(world, Mode.INCREMENTAL).report.complete
    note_mapping = default_mapping().for_entity(Entity.NOTE)
    world.ledger.put(
        ledger_entry(
            LOCATION,
            Entity.NOTE,
            Side.GHL,
            ghl_note["id"],
            canonical=note_mapping.from_ghl({**ghl_note, "body": "Another body"}),
            mapping=note_mapping,
            origin="observed",
        )
    )
    world.clock.now = world.clock.now.replace(minute=50)
    world.rankr.edit_contact(rankr_id, lastName="Noted")  # updatedAt moves, the contact's state does not
    world.ghl.calls.clear()

    outcome = run(world, Mode.INCREMENTAL)

    assert outcome.report.complete and outcome.report.scanned["rankr_changes_known"] == 1
    assert world.ghl.count("list_notes") == 1 and outcome.report.scanned["rankr_notes_known"] == 0


def test_a_rankr_edit_a_worker_write_folded_in_is_still_read_and_carried() -> None:
    """The worker's Rankr ledger entry records Rankr's whole state, a person's held Rankr edit
    included; the GHL entry does not have it, so the pair is read, not trusted."""
    world, ids = converged_world(2)
    ghl_id, rankr_id = ids[0]
    world.ghl.edit_contact(ghl_id, firstName="Earlier")
    worker_applies(world, ghl_id, rankr_id)  # both ledger entries: a baseline for the pair
    world.rankr.edit_contact(rankr_id, lastName="PersonInRankr")
    world.ghl.edit_contact(ghl_id, firstName="FromWebhook")
    world.ghl.search_hidden.add(ghl_id)
    worker_applies(world, ghl_id, rankr_id)
    assert world.rankr.contacts[rankr_id]["lastName"] == "PersonInRankr"  # held: Rankr's newer edit
    world.ghl.calls.clear()

    outcome = run(world, Mode.INCREMENTAL)

    assert outcome.report.complete
    assert world.ghl.count("get_contact") == 1
    assert world.ghl.contacts_by_id()[ghl_id]["lastName"] == "PersonInRankr"
    assert world.remaining_differences() == []


def test_a_pair_deleted_on_both_sides_with_the_ghl_delete_known_is_not_read() -> None:
    world, ids = converged_world(3)
    ghl_id, rankr_id = ids[2]
    del world.ghl.contacts_by_id()[ghl_id]
    world.tombstones.bury(Tombstone(LOCATION, Side.GHL, Entity.CONTACT, ghl_id, reason="webhook"))
    world.rankr.delete(ACCOUNT, Entity.CONTACT, rankr_id, None)
    world.ghl.calls.clear()

    outcome = run(world, Mode.INCREMENTAL)

    assert outcome.report.complete and outcome.report.total_differences == 0
    assert world.ghl.count("get_contact") == 0


def test_a_rankr_delete_whose_ghl_side_is_not_known_deleted_is_still_read() -> None:
    world, ids = converged_world(3)
    ghl_id, rankr_id = ids[2]
    world.rankr.delete(ACCOUNT, Entity.CONTACT, rankr_id, None)
    world.ghl.calls.clear()

    outcome = run(world, Mode.INCREMENTAL)

    assert outcome.report.complete
    assert world.ghl.count("get_contact") == 1
    assert CONTACT.deleted_tag in world.ghl.contacts_by_id()[ghl_id]["tags"]
