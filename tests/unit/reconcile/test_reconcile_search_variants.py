"""GHL's undocumented search shapes (docs/ghl-variants.md): the full pass pages past the search window
whatever the order and wherever (or whether) the cursor comes, and the task search's loose body key
never makes reconcile clear a task's body."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.reconcile_world import ACCOUNT, LOCATION, World
from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob
from rankr_ghl.flows.reconcile.search_paging import next_cursor
from rankr_ghl.sync.types import Entity


def run(world: World, mode: Mode = Mode.FULL) -> Any:
    return world.reconciler.run(ReconcileJob(LOCATION, mode), account_id=ACCOUNT)


@pytest.mark.parametrize("cursor", ["per_contact", "none"])
@pytest.mark.parametrize("order", ["id", "shuffled"])
def test_the_full_pass_pages_past_the_window_with_any_cursor(cursor: str, order: str) -> None:
    world = World(page_size=3, search_page_window=3)  # from the second page on: searchAfter
    pairs = [world.mirrored_pair(n) for n in range(11)]
    for n, (ghl_id, _) in enumerate(pairs):
        world.ghl.edit_contact(ghl_id, firstName=f"Edited{n}")
    world.ghl.search_order, world.ghl.search_cursor = order, cursor

    report = run(world).report

    assert all(world.rankr.contacts[rid]["firstName"] == f"Edited{n}" for n, (_, rid) in enumerate(pairs))
    assert report.scanned["ghl_contacts"] == 11  # every contact once: nothing skipped, nothing repeated
    assert world.ghl.count("get_contact") == 0  # so no candidate needed a confirming read
    assert world.remaining_differences() == []


def test_an_ignored_sort_without_cursors_still_converges_and_deletes_nothing_live() -> None:
    world = World(page_size=3, search_page_window=3)
    pairs = [world.mirrored_pair(n) for n in range(11)]
    world.ghl.search_order, world.ghl.search_cursor = "ignored", "none"
    world.ghl.edit_contact(pairs[7][0], firstName="Edited")

    run(world)

    assert not any(record.get("deletedAt") for record in world.rankr.contacts.values())
    assert world.remaining_differences() == []


def test_a_cursor_is_derived_from_the_sort_values_sent_when_ghl_sends_none() -> None:
    sort = [{"field": "dateAdded", "direction": "asc"}]
    records = [
        {"id": "b", "dateAdded": "2025-03-01T12:00:02.000Z"},
        {"id": "a", "dateAdded": "2025-03-01T12:00:03.000Z"},  # the page's last in the order sent
        {"id": "c", "dateAdded": "2025-03-01T12:00:01.000Z"},
    ]
    assert next_cursor(records, sort) == [1740830403000, "a"]
    shuffled = [
        dict(record, searchAfter=[n, record["id"]]) for n, record in zip((5, 9, 2), records, strict=True)
    ]
    assert next_cursor(shuffled, sort) == [9, "a"]  # GHL's own cursors: the largest, not the last


@pytest.mark.parametrize("body_key", ["description", None])
def test_a_task_search_without_body_never_clears_the_body(body_key: str | None) -> None:
    world = World()
    ghl_id, rankr_id = world.mirrored_pair(1)
    task_ghl, task_rankr = world.mirrored_task(ghl_id, rankr_id, "Call back")
    world.ghl.tasks[task_ghl]["title"] = "Call back today"
    world.ghl.task_body_key = body_key

    run(world)

    assert world.rankr.tasks[task_rankr]["title"] == "Call back today"
    assert world.rankr.tasks[task_rankr]["body"] == "b"
    assert run(world).report.total_differences == 0


def test_a_task_search_that_names_no_contact_still_mirrors_new_tasks_in_a_full_run() -> None:
    """With `task_event_contact_id: omitted` the worker cannot place a new task either (it skips it,
    `task_contact_unknown`): the full run lists the mapped contacts' tasks and mirrors it there."""
    world = World()
    ghl_id, rankr_id = world.mirrored_pair(1)
    world.mirrored_pair(2)
    world.ghl.task_contact_key = None
    task = world.ghl.seed_task(ghl_id, title="Call back", body="b")

    run(world)

    [mirrored] = [t for t in world.rankr.tasks.values() if t["contactId"] == rankr_id]
    assert mirrored["title"] == "Call back"
    assert world.ghl.count("list_tasks") == 2
    assert run(world, Mode.INCREMENTAL).report.total_differences == 0
    assert len(world.rankr.tasks) == 1
    assert task["id"] in {m.ghl_id for m in world.mappings.list_for_location(LOCATION, Entity.TASK)}


def test_a_full_run_lists_no_contact_tasks_when_the_search_names_every_contact() -> None:
    world = World()
    ghl_id, _ = world.mirrored_pair(1)
    world.ghl.seed_task(ghl_id, title="Call back", body="b")

    run(world)

    assert world.ghl.count("list_tasks") == 0


def test_a_lagging_search_copy_never_undoes_a_newer_ghl_edit() -> None:
    """GHL's search index lags its writes and serves the contact as it was. A full run that took that
    copy for GHL's state saw a GHL change (the copy differs from what the connector last synced) and
    wrote the old value back into Rankr: an edit lost (the chaos bench's `edits_lost` flake)."""
    world = World()
    ghl_id, rankr_id = world.mirrored_pair(1)
    before = dict(world.ghl.contacts_by_id()[ghl_id])
    world.ghl.edit_contact(ghl_id, lastName="Edited")
    run(world)  # as the webhook would: the edit reaches Rankr, the ledger holds it
    assert world.rankr.contacts[rankr_id]["lastName"] == "Edited"
    world.ghl.search_stale[ghl_id] = before

    run(world)

    assert world.rankr.contacts[rankr_id]["lastName"] == "Edited"
    assert world.ghl.contacts_by_id()[ghl_id]["lastName"] == "Edited"
