"""Deletes are proven, never inferred: a contact, task or note missing from a search or list is read
directly before anything is deleted, live ones are compared as drift, and a run deletes nothing when
the candidates exceed its delete budget. Searches return contacts in any order, with index lag."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fakes.reconcile_world import ACCOUNT, LOCATION, World
from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob, ReconcileSettings
from rankr_ghl.sync.ports import AuditAction
from rankr_ghl.sync.types import Entity


def run(world: World, mode: Mode = Mode.FULL) -> Any:
    return world.reconciler.run(ReconcileJob(LOCATION, mode), account_id=ACCOUNT)


def deleted_in_rankr(records: dict[str, dict[str, Any]]) -> set[str]:
    return {rid for rid, record in records.items() if record.get("deletedAt")}


@pytest.mark.parametrize("order", ["id", "ignored", "shuffled"])
def test_a_contact_missing_from_the_search_is_read_and_repaired_not_deleted(order: str) -> None:
    world = World(page_size=4)
    pairs = [world.mirrored_pair(n) for n in range(14)]
    world.ghl.search_order = order
    lagging_ghl, lagging_rankr = pairs[5]
    world.ghl.edit_contact(lagging_ghl, firstName="Edited")
    world.ghl.search_hidden.add(lagging_ghl)  # live in GHL, not yet in its search index
    gone_ghl, gone_rankr = pairs[9]
    del world.ghl.contacts_by_id()[gone_ghl]  # deleted in GHL, and no event said so

    run(world)

    assert deleted_in_rankr(world.rankr.contacts) == {gone_rankr}
    assert world.rankr.contacts[lagging_rankr]["firstName"] == "Edited"  # compared as drift
    deletes = [entry for entry in world.audit.entries if entry.action is AuditAction.DELETE]
    assert [(entry.ghl_id, entry.fields) for entry in deletes] == [(gone_ghl, ("evidence:ghl_get_404",))]
    assert world.ghl.count("get_contact") == 2  # one direct read per candidate, nothing more


def test_more_delete_candidates_than_the_budget_delete_nothing() -> None:
    world = World(page_size=10, delete_budget_min=3, delete_budget_fraction=0.0)
    pairs = [world.mirrored_pair(n) for n in range(12)]
    for ghl_id, _ in pairs[:5]:
        del world.ghl.contacts_by_id()[ghl_id]

    report = run(world).report

    assert deleted_in_rankr(world.rankr.contacts) == set()
    summary = report.to_dict()
    assert summary["deleteBudgetExceeded"] is True and summary["deletesWithheld"] == {"contact": 5}
    (refusal,) = [entry for entry in world.audit.entries if entry.reason == "delete_budget_exceeded"]
    assert refusal.action is AuditAction.SKIP and "candidates:5" in refusal.fields
    assert world.metrics.counts[("ReconcileDeleteBudgetExceeded", None)] == 1
    assert world.ghl.count("get_contact") == 0  # over budget: not even the confirming reads


def test_the_default_budget_is_twenty_or_two_percent_of_the_mapped_contacts() -> None:
    settings = ReconcileSettings()
    assert (settings.delete_budget_min, settings.delete_budget_fraction) == (20, 0.02)
    world = World(page_size=50)
    pairs = [world.mirrored_pair(n) for n in range(30)]
    for ghl_id, _ in pairs[:20]:
        del world.ghl.contacts_by_id()[ghl_id]
    run(world)
    assert len(deleted_in_rankr(world.rankr.contacts)) == 20  # exactly the floor: allowed


def test_a_task_the_scan_missed_is_read_and_kept_while_live() -> None:
    world = World()
    ghl_id, rankr_id = world.mirrored_pair(1)
    missed_ghl, missed_rankr = world.mirrored_task(ghl_id, rankr_id, "Call back")
    gone_ghl, gone_rankr = world.mirrored_task(ghl_id, rankr_id, "Send quote")
    world.ghl.task_search_hidden.add(missed_ghl)  # the unstable scan skipped it
    del world.ghl.tasks[gone_ghl]

    run(world)
    run(world)  # and again: a live task is never remembered as deleted

    assert deleted_in_rankr(world.rankr.tasks) == {gone_rankr}
    assert world.ghl.count("get_task") >= 2
    (delete,) = [entry for entry in world.audit.entries if entry.action is AuditAction.DELETE]
    assert delete.entity is Entity.TASK and delete.fields == ("evidence:ghl_get_404",)
    assert missed_rankr not in deleted_in_rankr(world.rankr.tasks)


def test_a_note_missing_from_the_list_is_read_before_it_is_deleted() -> None:
    world = World()
    ghl_id, rankr_id = world.mirrored_pair(1)
    run(world)
    note = world.ghl.seed_note(ghl_id, body="Left a message")
    run(world, Mode.NOTES)
    (rankr_note,) = world.rankr.notes.values()
    del world.ghl.notes[note["id"]]

    run(world, Mode.NOTES)

    assert world.rankr.notes[rankr_note["id"]].get("deletedAt")
    assert world.ghl.count("get_note") == 1
    (delete,) = [entry for entry in world.audit.entries if entry.action is AuditAction.DELETE]
    assert delete.entity is Entity.NOTE and delete.fields == ("evidence:ghl_get_404",)


def test_the_notes_pass_repairs_a_lost_note_on_a_contact_that_did_not_change() -> None:
    world = World()
    ghl_id, _ = world.mirrored_pair(1)
    world.clock.now += timedelta(hours=1)  # the contact last changed well before the window
    run(world)
    world.ghl.seed_note(ghl_id, body="Called, left a message")  # its NoteCreate webhook was lost

    run(world, Mode.INCREMENTAL)
    assert world.rankr.notes == {}  # the contact did not change: the incremental pass cannot know

    outcome = run(world, Mode.NOTES)
    (note,) = world.rankr.notes.values()
    assert note["body"] == "Called, left a message"
    assert outcome.report.repaired["note.missing_in_rankr"] == 1
    assert run(world, Mode.NOTES).report.total_differences == 0
